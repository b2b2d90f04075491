// Conformance: claiming runnable tasks — exactly once under concurrency, in priority order, and
// only what the runner may take (kinds, due time, target runner, legacy).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../../../src/store/types.ts';
import {
  addTasks,
  assertClaimedOnce,
  claimConcurrently,
  claimOne,
  claimRequest,
  LEASE_MS,
  newTask,
  T0,
} from './fixtures.ts';

export function describeClaims(store: () => Store): void {
  describe('claiming tasks', () => {
    it('claims each queued task exactly once across many concurrent claimers', async () => {
      const ids = await addTasks(store(), 200);
      assertClaimedOnce(await claimConcurrently([store()], 20), ids);
      assert.deepEqual(await store().claimTasks(claimRequest()), []);
    });

    it('returns the task already running, with its attempt and lease', async () => {
      const { task } = await store().createTask(newTask(), T0);
      const claim = await claimOne(store(), { runner: 'r7', now: T0 + 100 });
      assert.equal(claim.attempt, 1);
      assert.equal(claim.leaseExpiresAt, T0 + 100 + LEASE_MS);
      assert.ok(claim.leaseToken.length >= 16, 'lease tokens are unguessable');
      const running = { ...task, state: 'running', attempt: 1, runner: 'r7', startedAt: T0 + 100 };
      const expected = { ...running, updatedAt: T0 + 100, leaseExpiresAt: T0 + 100 + LEASE_MS };
      assert.deepEqual(claim.task, expected);
      assert.deepEqual(await store().getTask(task.id), expected);
    });

    it('gives each claim its own lease token', async () => {
      await addTasks(store(), 5);
      const claims = await store().claimTasks(claimRequest());
      assert.equal(new Set(claims.map((c) => c.leaseToken)).size, 5);
    });

    it('claims only the kinds the runner asks for', async () => {
      await addTasks(store(), 2);
      const [read] = await addTasks(store(), 1, { kind: 'file.read', spec: { path: '/a' } });
      const claims = await store().claimTasks(claimRequest({ kinds: ['file.read', 'file.list'] }));
      assert.deepEqual(
        claims.map((c) => c.task.id),
        [read],
      );
      assert.deepEqual(await store().claimTasks(claimRequest({ kinds: [] })), []);
    });

    it('claims higher priority first, then earlier runAt, then older id', async () => {
      const [low] = await addTasks(store(), 1, { priority: -5 });
      const [late, early] = [newTask({ runAt: T0 - 10 }), newTask({ runAt: T0 - 20 })];
      for (const t of [late, early]) await store().createTask(t, T0);
      const [older, newer] = await addTasks(store(), 2, { priority: 3 });
      const claims = await store().claimTasks(claimRequest());
      assert.deepEqual(
        claims.map((c) => c.task.id),
        [older, newer, early.id, late.id, low],
      );
    });

    it('does not claim a task before its runAt', async () => {
      const { task } = await store().createTask(newTask({ runAt: T0 + 60_000 }), T0);
      assert.deepEqual(await store().claimTasks(claimRequest({ now: T0 + 59_999 })), []);
      const claim = await claimOne(store(), { now: T0 + 60_000 });
      assert.equal(claim.task.id, task.id);
    });

    it('claims a targeted task only for its runner', async () => {
      const [targeted] = await addTasks(store(), 1, { target: { runner: 'r2' } });
      assert.deepEqual(await store().claimTasks(claimRequest({ runner: 'r1' })), []);
      assert.equal((await claimOne(store(), { runner: 'r2' })).task.id, targeted);
    });

    it('gives legacy pollers only legacy-compatible tasks, leased for timeout plus leaseMs', async () => {
      await addTasks(store(), 1, { legacyCompatible: false });
      const [compatible] = await addTasks(store(), 1, { timeoutMs: 120_000 });
      const claims = await store().claimTasks(claimRequest({ legacy: true }));
      assert.deepEqual(
        claims.map((c) => c.task.id),
        [compatible],
      );
      assert.equal(claims[0]!.leaseExpiresAt, T0 + 120_000 + LEASE_MS);
      assert.equal((await store().getLease(compatible!))?.legacy, true);
      assert.equal((await store().claimTasks(claimRequest())).length, 1, 'v1 runners take either');
    });

    it('claims at most max tasks', async () => {
      await addTasks(store(), 5);
      assert.equal((await store().claimTasks(claimRequest({ max: 3 }))).length, 3);
      assert.equal((await store().claimTasks(claimRequest({ max: 3 }))).length, 2);
    });
  });
}
