// Conformance: retention — finished tasks and old events go by age and by count, in batches;
// queued and running tasks and unread legacy results never go by age.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RetentionRules, Store } from '../../../src/store/types.ts';
import { addTasks, newTask, startTask, SUCCEEDED, T0 } from './fixtures.ts';

const DAY = 86_400_000;

/** Rules that delete nothing, to override one at a time. */
function keepAll(overrides: Partial<RetentionRules> = {}): RetentionRules {
  return {
    now: T0 + 10 * DAY,
    finishedBefore: 0,
    readBefore: 0,
    maxFinished: 1_000_000,
    eventsBefore: 0,
    maxEvents: 1_000_000,
    batch: 100,
    ...overrides,
  };
}

/** Creates and finishes one task at `at`. */
async function finishedTask(store: Store, at: number, origin: 'v1' | 'legacy' = 'v1') {
  const { task } = await store.createTask(newTask({ origin }), at);
  const [claim] = await store.claimTasks({
    runner: 'r1',
    kinds: ['shell'],
    max: 1,
    leaseMs: 1_000,
    now: at,
  });
  assert.equal(claim?.task.id, task.id);
  await store.finishAttempt({
    taskId: task.id,
    leaseToken: claim.leaseToken,
    outcome: SUCCEEDED,
    now: at + 1,
  });
  return task.id;
}

export function describeRetention(store: () => Store): void {
  describe('retention', () => {
    it('prunes finished tasks by age and never live ones', async () => {
      const old = await finishedTask(store(), T0);
      const recent = await finishedTask(store(), T0 + 5 * DAY);
      const running = await startTask(store());
      const [queued] = await addTasks(store(), 1);
      const result = await store().prune(keepAll({ finishedBefore: T0 + 10 * DAY }));
      assert.equal(result.tasks, 2);
      assert.equal(result.more, false);
      assert.equal(await store().getTask(old), undefined);
      assert.equal(await store().getTask(recent), undefined);
      assert.deepEqual(await store().listAttempts(old), []);
      assert.equal((await store().getTask(queued!))?.state, 'queued');
      assert.equal((await store().getTask(running.task.id))?.state, 'running');
      const [pruned] = await store().listEvents({ type: 'retention.pruned', limit: 5 });
      assert.deepEqual(pruned?.data, { tasks: 2, events: 0, sessions: 0 });
    });

    it('keeps an unread legacy result past the age rule until it is read', async () => {
      const unread = await finishedTask(store(), T0, 'legacy');
      assert.equal((await store().prune(keepAll({ finishedBefore: T0 + DAY }))).tasks, 0);
      await store().markResultRead(unread, T0 + 2 * DAY);
      const readRecently = keepAll({ readBefore: T0 + DAY });
      assert.equal((await store().prune(readRecently)).tasks, 0);
      assert.equal((await store().prune(keepAll({ readBefore: T0 + 3 * DAY }))).tasks, 1);
    });

    it('caps finished tasks by count, oldest first, in batches', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await finishedTask(store(), T0 + i * 10));
      const first = await store().prune(keepAll({ maxFinished: 2, batch: 2 }));
      assert.deepEqual([first.tasks, first.more], [2, true]);
      const second = await store().prune(keepAll({ maxFinished: 2, batch: 2 }));
      assert.deepEqual([second.tasks, second.more], [1, false]);
      const left = await Promise.all(ids.map((id) => store().getTask(id)));
      assert.deepEqual(
        left.map((t) => t !== undefined),
        [false, false, false, true, true],
      );
    });

    it('prunes events by age and by count, oldest first', async () => {
      for (let i = 0; i < 6; i++) await store().appendEvent({ type: 'x', data: { i } }, T0 + i);
      const byAge = await store().prune(keepAll({ eventsBefore: T0 + 2 }));
      assert.equal(byAge.events, 2);
      const byCount = await store().prune(keepAll({ maxEvents: 3 }));
      // Four events of type x and one retention.pruned remained: the two oldest go, and the
      // second prune logs itself after counting.
      assert.equal(byCount.events, 2);
      const left = await store().listEvents({ limit: 10 });
      assert.deepEqual(
        left.map((e) => e.data?.i ?? e.type),
        [4, 5, 'retention.pruned', 'retention.pruned'],
      );
    });

    it('does nothing and logs nothing when no rule matches', async () => {
      await finishedTask(store(), T0);
      const before = (await store().eventStats()).total;
      assert.deepEqual(await store().prune(keepAll()), {
        tasks: 0,
        events: 0,
        sessions: 0,
        more: false,
      });
      assert.equal((await store().eventStats()).total, before);
      await store().compact();
    });
  });
}
