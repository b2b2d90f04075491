// What a callback says about a finished task: the whole answer for a chat, a failure notice with
// the error and a short session id, and the JSON body a webhook receives. No secret is ever read.
import type { Outcome } from '../../protocol/tasks.ts';
import type { StoredTask } from '../../store/types.ts';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** An error quoted in a chat stays short enough to read; the task read has all of it. */
const ERROR_CHARS = 1_000;

/**
 * The task's answer: an agent's final text, else stdout, else a file task's content; '' if none.
 * @example answerText(task) // 'All tests pass.\n'
 */
export function answerText(task: StoredTask): string {
  const outcome = task.outcome;
  if (!outcome) return '';
  const output = isRecord(outcome.output) ? outcome.output : {};
  return text(output.text) ?? outcome.stdout ?? text(output.content) ?? '';
}

/** The first 8 characters of the provider session id, wherever the outcome or task carries it. */
export function shortSessionId(task: StoredTask): string | undefined {
  const outcome = task.outcome;
  const output = isRecord(outcome?.output) ? outcome.output : {};
  const id =
    text(outcome?.metadata?.sessionId) ?? text(output.sessionId) ?? text(task.metadata?.sessionId);
  return id ? id.slice(0, 8) : undefined;
}

const ENDED: Record<Outcome['status'], string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  timed_out: 'timed out',
  cancelled: 'was cancelled',
  lost: 'was lost',
};

/** The chat message for a finished task: the answer, or a failure notice followed by any output. */
export function chatMessage(task: StoredTask): string {
  const answer = answerText(task);
  const status = task.outcome?.status ?? 'lost';
  if (status === 'succeeded') return answer.trim() === '' ? '(no output)' : answer;
  const error = task.outcome?.error?.message ?? `exit code ${task.outcome?.exitCode ?? '?'}`;
  const notice = `⚠️ Task ${ENDED[status]}: ${clip(error)}${sessionNote(task)}`;
  return answer.trim() === '' ? notice : `${notice}\n\n${answer}`;
}

/** One short message when the answer itself could not be posted. */
export function deliveryFailureNotice(task: StoredTask, error: string): string {
  return `⚠️ The answer to task ${task.id} could not be posted: ${clip(error)}${sessionNote(task)}`;
}

function sessionNote(task: StoredTask): string {
  const session = shortSessionId(task);
  return session ? `\nSession: \`${session}\`` : '';
}

function clip(message: string): string {
  return message.length > ERROR_CHARS ? `${message.slice(0, ERROR_CHARS)}…` : message;
}

/** The JSON a webhook receives: what ended, how, and the answer. */
export function webhookBody(task: StoredTask): Record<string, unknown> {
  const outcome = task.outcome;
  const summary: Record<string, unknown> = { status: outcome?.status ?? task.state };
  if (outcome?.exitCode !== undefined) summary.exitCode = outcome.exitCode;
  if (outcome?.error) summary.error = { kind: outcome.error.kind, message: outcome.error.message };
  if (outcome?.durationMs !== undefined) summary.durationMs = outcome.durationMs;
  if (outcome?.truncated) summary.truncated = true;
  const output = isRecord(outcome?.output) ? outcome.output : {};
  const sessionId = text(outcome?.metadata?.sessionId) ?? text(output.sessionId);
  if (sessionId) summary.sessionId = sessionId;
  return {
    taskId: task.id,
    kind: task.kind,
    state: task.state,
    finishedAt: task.finishedAt ?? null,
    ...(task.sessionKey ? { sessionKey: task.sessionKey } : {}),
    text: answerText(task),
    outcome: summary,
  };
}
