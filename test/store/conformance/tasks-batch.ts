// Conformance: creating a batch of tasks in one transaction — each answered in order as createTask
// would answer it, an item's failure (its writes undone) in its place without failing the rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../../src/protocol/errors.ts';
import type { CreateTaskResult, NewCallback, Store } from '../../../src/store/types.ts';
import { newTask, T0 } from './fixtures.ts';

/** The result of an item that should have succeeded, failing the test on an error. */
function ok(result: CreateTaskResult | Error | undefined): CreateTaskResult {
  if (result instanceof Error) throw result;
  assert.ok(result !== undefined, 'no result for this item');
  return result;
}

/** A callback the store cannot keep (no target): its insert fails after the task row's. */
const UNSTORABLE = { kind: 'webhook', target: null } as unknown as NewCallback;

export function describeCreateBatches(store: () => Store): void {
  describe('creating a batch of tasks', () => {
    it('creates each task as createTask would, in order', async () => {
      const tasks = [newTask(), newTask({ runAt: T0 + 60_000 }), newTask({ priority: 3 })];
      const results = await store().createTasks(tasks, T0);
      assert.deepEqual(
        results.map((r) => [ok(r).task.id, ok(r).task.state, ok(r).created]),
        [
          [tasks[0]!.id, 'queued', true],
          [tasks[1]!.id, 'scheduled', true],
          [tasks[2]!.id, 'queued', true],
        ],
      );
      for (const result of results)
        assert.deepEqual(await store().getTask(ok(result).task.id), ok(result).task);
      const events = await store().listEvents({ taskId: tasks[2]!.id, limit: 10 });
      assert.deepEqual(
        events.map((e) => e.type),
        ['task.created'],
      );
    });

    it('answers fresh, repeated and conflicting idempotency keys each on their own', async () => {
      const earlier = await store().createTask(
        newTask({ idempotencyKey: 'old', requestHash: 'h1' }),
        T0,
      );
      const fresh = newTask({ idempotencyKey: 'new', requestHash: 'h1' });
      const results = await store().createTasks(
        [
          newTask({ idempotencyKey: 'old', requestHash: 'h1' }),
          fresh,
          newTask({ idempotencyKey: 'old', requestHash: 'h2' }),
          newTask({ idempotencyKey: 'new', requestHash: 'h1' }),
          newTask({ idempotencyKey: 'new', requestHash: 'h3' }),
        ],
        T0 + 1,
      );
      assert.deepEqual(results[0], { task: earlier.task, created: false });
      assert.equal(ok(results[1]).task.id, fresh.id);
      assert.equal(ok(results[1]).created, true);
      assert.ok(results[2] instanceof AppError && results[2].code === 'conflict');
      // The key first used earlier in this batch answers with that task: a later item sees it.
      assert.deepEqual(results[3], { task: ok(results[1]).task, created: false });
      assert.ok(results[4] instanceof AppError && results[4].code === 'conflict');
      assert.equal((await store().listTasks({ limit: 10 })).tasks.length, 2);
    });

    it('undoes a failed item’s writes and keeps the others', async () => {
      const [before, broken, after] = [newTask(), newTask({ callbacks: [UNSTORABLE] }), newTask()];
      const results = await store().createTasks([before, broken, after], T0);
      assert.equal(ok(results[0]).created, true);
      assert.ok(results[1] instanceof Error);
      assert.equal(ok(results[2]).created, true);
      assert.equal(await store().getTask(broken.id), undefined);
      assert.deepEqual(await store().listEvents({ taskId: broken.id, limit: 10 }), []);
      assert.equal((await store().getTask(before.id))?.state, 'queued');
      assert.equal((await store().getTask(after.id))?.state, 'queued');
      assert.equal((await store().listEvents({ taskId: after.id, limit: 10 })).length, 1);
    });

    it('holds a session turn behind an earlier turn of the same batch', async () => {
      const turn = () =>
        newTask({
          kind: 'agent',
          spec: { agent: 'claude', prompt: 'hi' },
          sessionKey: 's1',
          legacyCompatible: false,
        });
      const results = await store().createTasks([turn(), turn()], T0);
      assert.deepEqual(
        results.map((r) => ok(r).task.state),
        ['queued', 'held'],
      );
      const [session] = await store().listSessions({ key: 's1', agent: 'claude', limit: 1 });
      assert.equal(session?.taskCount, 2);
    });

    it('does nothing for an empty batch', async () => {
      assert.deepEqual(await store().createTasks([], T0), []);
    });
  });
}
