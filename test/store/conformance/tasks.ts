// Conformance: creating tasks (idempotently), reading them, cancelling them, and result reads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store, StoredTask } from '../../../src/store/types.ts';
import { appError, FAILED, newTask, startTask, SUCCEEDED, T0 } from './fixtures.ts';
import { describeCreateBatches } from './tasks-batch.ts';

export function describeTasks(store: () => Store): void {
  describe('creating tasks', () => {
    it('creates a queued task and reads it back', async () => {
      const input = newTask({
        kind: 'file.read',
        spec: { path: '/tmp/a' },
        priority: 5,
        target: { runner: 'r1', labels: ['gpu'] },
        labels: ['nightly'],
        sessionKey: 's1',
        metadata: { from: 'test', n: 1 },
      });
      const expected: StoredTask = {
        id: input.id,
        kind: 'file.read',
        spec: { path: '/tmp/a' },
        state: 'queued',
        priority: 5,
        runAt: T0,
        timeoutMs: 60_000,
        maxAttempts: 1,
        retryOnFailure: false,
        attempt: 0,
        target: { runner: 'r1', labels: ['gpu'] },
        labels: ['nightly'],
        sessionKey: 's1',
        createdAt: T0,
        updatedAt: T0,
        cancelRequested: false,
        origin: 'v1',
        metadata: { from: 'test', n: 1 },
      };
      assert.deepEqual(await store().createTask(input, T0), { task: expected, created: true });
      assert.deepEqual(await store().getTask(input.id), expected);
    });

    it('leaves unset optional fields out instead of storing null', async () => {
      const { task } = await store().createTask(newTask({ origin: 'legacy' }), T0);
      const keys = [
        'attempt',
        'cancelRequested',
        'createdAt',
        'id',
        'kind',
        'maxAttempts',
        'origin',
        'priority',
      ];
      keys.push('retryOnFailure', 'runAt', 'spec', 'state', 'timeoutMs', 'updatedAt');
      assert.deepEqual(Object.keys(task).sort(), keys.sort());
      assert.deepEqual(await store().getTask(task.id), task);
    });

    it('creates a scheduled task when runAt is in the future', async () => {
      const { task } = await store().createTask(newTask({ runAt: T0 + 1 }), T0);
      assert.equal(task.state, 'scheduled');
    });

    it('returns undefined for an unknown task id', async () => {
      assert.equal(await store().getTask(newTask().id), undefined);
    });
  });

  describe('idempotent creates', () => {
    it('returns the original task when an idempotency key repeats with the same request', async () => {
      const first = await store().createTask(
        newTask({ idempotencyKey: 'k1', requestHash: 'h1' }),
        T0,
      );
      const again = await store().createTask(
        newTask({ idempotencyKey: 'k1', requestHash: 'h1' }),
        T0 + 5,
      );
      assert.deepEqual(again, { task: first.task, created: false });
    });

    it('returns the original task when either request has no hash', async () => {
      const first = await store().createTask(newTask({ idempotencyKey: 'k1' }), T0);
      const hashed = await store().createTask(
        newTask({ idempotencyKey: 'k1', requestHash: 'h2' }),
        T0,
      );
      assert.deepEqual(hashed, { task: first.task, created: false });
      await store().createTask(newTask({ idempotencyKey: 'k2', requestHash: 'h1' }), T0);
      const unhashed = await store().createTask(newTask({ idempotencyKey: 'k2' }), T0);
      assert.equal(unhashed.created, false);
    });

    it('refuses an idempotency key reused with a different request', async () => {
      await store().createTask(newTask({ idempotencyKey: 'k1', requestHash: 'h1' }), T0);
      const reuse = store().createTask(newTask({ idempotencyKey: 'k1', requestHash: 'h2' }), T0);
      await assert.rejects(reuse, appError('conflict'));
    });

    it('creates one task when many creates race on one idempotency key', async () => {
      const creates = Array.from({ length: 20 }, () =>
        newTask({ idempotencyKey: 'race', requestHash: 'h' }),
      );
      const results = await Promise.all(creates.map((t) => store().createTask(t, T0)));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.task.id)).size, 1);
    });
  });

  describeCreateBatches(store);

  describe('cancelling', () => {
    it('cancels a queued task at once with a cancelled outcome', async () => {
      const { task } = await store().createTask(newTask(), T0);
      const cancelled = await store().cancelTask(task.id, T0 + 10);
      assert.equal(cancelled?.state, 'cancelled');
      assert.equal(cancelled?.finishedAt, T0 + 10);
      assert.deepEqual(cancelled?.outcome, {
        status: 'cancelled',
        error: { kind: 'cancelled', message: 'Cancelled before it started', retryable: false },
      });
      assert.deepEqual(
        await store().claimTasks({
          runner: 'r1',
          kinds: ['shell'],
          max: 5,
          leaseMs: 1,
          now: T0 + 20,
        }),
        [],
      );
    });

    it('cancels a scheduled task at once', async () => {
      const { task } = await store().createTask(newTask({ runAt: T0 + 60_000 }), T0);
      assert.equal((await store().cancelTask(task.id, T0))?.state, 'cancelled');
    });

    it('requests cancel of a running task, which its next heartbeat reports', async () => {
      const claim = await startTask(store());
      const cancelling = await store().cancelTask(claim.task.id, T0 + 10);
      assert.equal(cancelling?.state, 'running');
      assert.equal(cancelling?.cancelRequested, true);
      const beat = await store().extendLeases(
        'r1',
        [{ taskId: claim.task.id, leaseToken: claim.leaseToken }],
        1_000,
        T0 + 20,
      );
      assert.deepEqual(beat.cancel, [claim.task.id]);
    });

    it('leaves a finished task unchanged', async () => {
      const claim = await startTask(store());
      const done = await store().finishAttempt({
        taskId: claim.task.id,
        leaseToken: claim.leaseToken,
        outcome: SUCCEEDED,
        now: T0 + 5,
      });
      assert.deepEqual(await store().cancelTask(claim.task.id, T0 + 10), done);
    });

    it('returns undefined when cancelling an unknown task', async () => {
      assert.equal(await store().cancelTask(newTask().id, T0), undefined);
    });
  });

  describe('result reads', () => {
    it('marks a finished result read only the first time', async () => {
      const claim = await startTask(store());
      assert.equal(
        await store().markResultRead(claim.task.id, T0 + 1),
        false,
        'a running task has no result yet',
      );
      await store().finishAttempt({
        taskId: claim.task.id,
        leaseToken: claim.leaseToken,
        outcome: FAILED,
        now: T0 + 2,
      });
      assert.equal(await store().markResultRead(claim.task.id, T0 + 3), true);
      assert.equal(await store().markResultRead(claim.task.id, T0 + 4), false);
      assert.equal((await store().getTask(claim.task.id))?.resultReadAt, T0 + 3);
      assert.equal(await store().markResultRead(newTask().id, T0), false);
    });

    it('counts finished results that no client has read', async () => {
      const claim = await startTask(store());
      await store().finishAttempt({
        taskId: claim.task.id,
        leaseToken: claim.leaseToken,
        outcome: SUCCEEDED,
        now: T0,
      });
      const { task: cancelled } = await store().createTask(newTask(), T0);
      await store().cancelTask(cancelled.id, T0);
      await store().createTask(newTask(), T0);
      assert.equal(await store().countUnreadResults(), 2);
      await store().markResultRead(cancelled.id, T0);
      assert.equal(await store().countUnreadResults(), 1);
    });
  });
}
