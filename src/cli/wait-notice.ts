// While a followed task has not started, tells the person why on stderr, once per change: a task
// no runner can take says so (the server's `waitReason`) instead of sitting silently.
import type { Task } from '../protocol/tasks.ts';
import type { OutpostClient } from '../sdk/index.ts';

/** How often a waiting task's state is read: a person notices a second, the server does not. */
const WAITING_POLL_MS = 1_000;

/** The line for a task that has not started, or undefined once it runs or ended. */
export type WaitingLine = (task: Task) => string | undefined;

/**
 * Says `lineOf(task)` whenever it changes until the task runs, ends, or `signal` aborts (its
 * first output). A task is usually picked up within milliseconds, so "queued" is said only once
 * it has lasted a poll; read errors are skipped (the follow loop reports real trouble).
 */
export async function watchWaiting(
  client: Pick<OutpostClient, 'getTask'>,
  task: Task,
  lineOf: WaitingLine,
  signal: AbortSignal,
): Promise<void> {
  const { delay } = await import('../sdk/index.ts');
  let current = task;
  let said: string | undefined;
  for (let polls = 0; !signal.aborted; polls += 1) {
    const line = lineOf(current);
    if (line === undefined) {
      if (said !== undefined && current.state === 'running')
        say(`started on ${current.runner ?? 'a runner'}`);
      return;
    }
    if (line !== said && (current.state !== 'queued' || polls > 0)) say((said = line));
    await delay(WAITING_POLL_MS, signal);
    if (signal.aborted) return;
    current = await client.getTask(task.id, { signal }).catch(() => current);
  }
}

/** The waiting line of a plain task: its state, and why it waits when the server knows. */
export function taskWaitingLine(task: Task): string | undefined {
  const why = task.waitReason === undefined ? '' : `: ${task.waitReason}`;
  switch (task.state) {
    case 'queued':
      return `task ${task.id} is queued${why}`;
    case 'scheduled':
      return `task ${task.id} is scheduled for ${new Date(task.runAt).toISOString()}${why}`;
    case 'held':
      return `task ${task.id} is held`;
    default:
      return undefined;
  }
}

function say(line: string): void {
  process.stderr.write(`outpost: ${line}\n`);
}
