// Tells the server an agent turn's provider session id the moment its CLI prints it, so a runner
// that dies mid-turn does not take the conversation with it. Best effort: the finish reports the
// id again, so a report that fails costs nothing but that safety, and never holds up the turn.
import { AppError } from '../protocol/errors.ts';
import type { Claim, TurnSessionBody } from '../protocol/runner.ts';
import { delay } from '../sdk/delay.ts';
import { isTransient, type OutpostClient } from '../sdk/client.ts';
import { retryDelayMs, type RetryConfig } from './retry-delay.ts';
import { errorFields, type RunnerLog } from './runner-log.ts';

export interface TurnSessionDeps {
  client: OutpostClient;
  log: RunnerLog;
  retry: RetryConfig;
}

/**
 * The `onSessionId` of one attempt, or undefined when its task has no session to keep (not an
 * agent turn, or no session key: the server would answer `recorded: false` to every report).
 * @example const onSessionId = createTurnSessionReporter({ client, log, retry: config }, claim);
 */
export function createTurnSessionReporter(
  deps: TurnSessionDeps,
  claim: Claim,
): ((providerSessionId: string) => void) | undefined {
  const { task, leaseToken } = claim;
  if (task.kind !== 'agent' || task.sessionKey === undefined) return undefined;
  let previous = Promise.resolve();
  return (providerSessionId) => {
    const body = { taskId: task.id, leaseToken, providerSessionId };
    // One at a time, in order: a retried report of a refused resume's id must not land after the
    // fresh fallback's id and overwrite it.
    previous = previous.then(() => reportTurnSession(deps, body));
  };
}

/** One quick retry on a transient failure; never throws. */
async function reportTurnSession(deps: TurnSessionDeps, body: TurnSessionBody): Promise<void> {
  for (let failures = 1; ; failures++) {
    try {
      await deps.client.reportTurnSession(body);
      return;
    } catch (err) {
      // The turn ended first (its finish carried the id) or the lease went to someone else.
      if (err instanceof AppError && err.code === 'lease_lost') return;
      if (failures >= 2 || !isTransient(err)) {
        const fields = { taskId: body.taskId, ...errorFields(err) };
        deps.log('warn', "could not report the turn's session id; its finish will", fields);
        return;
      }
      await delay(retryDelayMs(err, failures, deps.retry));
    }
  }
}
