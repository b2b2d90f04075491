// Pointing a session key at a provider session from a person's `ID`: a prefix of an id the server
// knows, or a full id it has never seen (a session started outside Outpost), as legacy bots do.
import { AppError } from '../protocol/errors.ts';
import type { AgentName, Session } from '../protocol/agents.ts';
import type { OutpostClient } from '../sdk/index.ts';

/** A whole UUID: what Claude, Codex and Gemini session ids look like, so never a mere prefix. */
const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Resumes `id` as a prefix (a full known id is a prefix of itself); an unknown whole UUID is
 * taken as given. An ambiguous prefix becomes an error that lists the candidates one per line.
 */
export async function resumeByIdOrPrefix(
  client: Pick<OutpostClient, 'resumeSession'>,
  key: string,
  agent: AgentName,
  id: string,
): Promise<Session> {
  try {
    return await client.resumeSession(key, { agent, prefix: id });
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    if (err.code === 'not_found' && FULL_ID.test(id)) {
      return client.resumeSession(key, { agent, providerSessionId: id });
    }
    throw err.code === 'conflict' ? ambiguity(err, agent, id) : err;
  }
}

function ambiguity(err: AppError, agent: AgentName, prefix: string): AppError {
  const candidates = (err.details as { candidates?: unknown } | undefined)?.candidates;
  if (!Array.isArray(candidates)) return err;
  // The server lists at most 10 and ends its own message with '…' when there were more.
  const more = err.message.includes('…') ? '\n  …' : '';
  const lines = candidates.map((c) => `  ${String(c)}`).join('\n') + more;
  return new AppError(
    'conflict',
    `'${prefix}' matches several ${agent} sessions; give more of the id:\n${lines}`,
    err.details,
  );
}
