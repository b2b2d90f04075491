// Following a submitted task from a terminal until it ends: its live output goes to a callback,
// the first Ctrl-C cancels the remote task, a second detaches. Shared by `run` and `agent`.
import type { LogChunk } from '../protocol/output.ts';
import type { Task } from '../protocol/tasks.ts';
import type { OutpostClient } from '../sdk/index.ts';

export type FollowClient = Pick<OutpostClient, 'readLogs' | 'waitForTask' | 'cancelTask'>;

/**
 * Calls `onChunk` for each output chunk until the task ends, then resolves with the finished
 * task; resolves with undefined when the user detached (the task goes on; we said how to follow).
 */
export async function followTask(
  client: FollowClient,
  task: Task,
  onChunk: (chunk: LogChunk) => void,
): Promise<Task | undefined> {
  const { followLogs } = await import('../sdk/index.ts');
  const detach = new AbortController();
  const stopCatching = catchInterrupts(client, task.id, detach);
  try {
    for await (const chunk of followLogs(client, task.id, { signal: detach.signal })) {
      onChunk(chunk);
    }
    if (!detach.signal.aborted) return await client.waitForTask(task.id, { signal: detach.signal });
  } catch (err) {
    // Detaching aborts the wait with the signal's reason: that is the user's choice, not a failure.
    if (!detach.signal.aborted) throw err;
  } finally {
    stopCatching();
  }
  process.stderr.write(
    `outpost: detached; task ${task.id} goes on. Follow it with: outpost logs ${task.id} -f\n`,
  );
  return undefined;
}

/**
 * The first Ctrl-C asks the server to cancel (the runner confirms, and we keep following until
 * it has); the second aborts `detach`. Returns the function that stops catching Ctrl-C.
 */
function catchInterrupts(client: FollowClient, id: string, detach: AbortController): () => void {
  let interrupts = 0;
  const onInterrupt = (): void => {
    interrupts += 1;
    if (interrupts > 1) return detach.abort();
    process.stderr.write(`outpost: cancelling task ${id}… (Ctrl-C again to detach)\n`);
    client
      .cancelTask(id)
      .catch((err: unknown) => process.stderr.write(`outpost: cancel failed: ${String(err)}\n`));
  };
  process.on('SIGINT', onInterrupt);
  return () => process.off('SIGINT', onInterrupt);
}
