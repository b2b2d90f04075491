// Runs a task to a chosen outcome through the runner protocol (claim, then finish), for tests about
// what happens after a task ends. Each call claims as its own runner name, so nothing else is taken.
import assert from 'node:assert/strict';
import type { OutpostClient } from '../../src/sdk/client.ts';
import type { CreateTaskBody, Outcome, Task } from '../../src/protocol/tasks.ts';

let runners = 0;

/** Creates `body` targeted at a fresh runner name, claims it and finishes it with `outcome`. */
export async function finishTask(
  client: OutpostClient,
  body: CreateTaskBody,
  outcome: Outcome,
): Promise<Task> {
  const runner = `finisher-${process.pid}-${++runners}`;
  const task = await client.createTask({ ...body, target: { runner } });
  const { tasks } = await client.claimTasks({ runner, max: 1 });
  assert.equal(tasks[0]?.task.id, task.id, 'claimed the task just created');
  const reply = await client.finishAttempt({
    taskId: task.id,
    leaseToken: tasks[0].leaseToken,
    outcome,
  });
  return reply.task;
}

/** Polls the task until `check` passes on it (a callback's state, say), or fails after `withinMs`. */
export async function untilTask(
  client: OutpostClient,
  id: string,
  check: (task: Task) => boolean,
  withinMs = 10_000,
): Promise<Task> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const task = await client.getTask(id);
    if (check(task)) return task;
    if (Date.now() > deadline) assert.fail(`task ${id} never matched: ${JSON.stringify(task)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True once every callback of the task has settled (sent or failed). */
export const callbacksSettled = (task: Task): boolean =>
  (task.callbacks ?? []).length > 0 &&
  (task.callbacks ?? []).every((c) => c.state === 'sent' || c.state === 'failed');
