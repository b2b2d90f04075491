// Conformance: the event log and attempt history — every state change logged with its task, read
// forward with a cursor, filtered, counted; restarts of a runner end its old instance's leases.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store, StoredEvent } from '../../../src/store/types.ts';
import {
  ack,
  claimOne,
  claimRequest,
  FAILED,
  LEASE_MS,
  newTask,
  startTask,
  SUCCEEDED,
  T0,
} from './fixtures.ts';

const RETRY = { baseMs: 1_000, maxMs: 1_000, jitter: 1 };

/** Type and resulting task state of each event about `taskId`, oldest first. */
async function historyOf(store: Store, taskId: string): Promise<string[]> {
  const events = await store.listEvents({ taskId, limit: 100 });
  return events.map((e) => `${e.type}:${e.taskState}`);
}

export function describeEvents(store: () => Store): void {
  describe('event log', () => {
    it('logs a task from creation to its result being read, with kind and state', async () => {
      const claim = await startTask(store(), { kind: 'file.list', spec: { path: '/' } });
      const id = claim.task.id;
      const { leaseToken } = claim;
      await store().finishAttempt({ taskId: id, leaseToken, outcome: SUCCEEDED, now: T0 + 5 });
      assert.equal(await store().markResultRead(id, T0 + 6), true);
      assert.equal(await store().markResultRead(id, T0 + 7), false, 'read once');
      assert.deepEqual(await historyOf(store(), id), [
        'task.created:queued',
        'task.started:running',
        'task.completed:succeeded',
        'task.reconciled:succeeded',
      ]);
      const [created, started] = await store().listEvents({ taskId: id, limit: 2 });
      assert.equal(created?.taskKind, 'file.list');
      assert.deepEqual(created?.task, { origin: 'v1' });
      assert.equal(started?.runner, 'r1');
      assert.deepEqual(started?.data, { attempt: 1 });
      assert.equal(started?.at, T0);
    });

    it('logs retries, cancels and expiries', async () => {
      const retried = await startTask(store(), { maxAttempts: 2 });
      const { leaseToken } = retried;
      const taskId = retried.task.id;
      await store().finishAttempt({ taskId, leaseToken, outcome: FAILED, now: T0, retry: RETRY });
      await claimOne(store(), { now: T0 + 1_000 });
      await store().requeueExpired(T0 + 1_000 + LEASE_MS, 10);
      assert.deepEqual((await historyOf(store(), taskId)).slice(1), [
        'task.started:running',
        'task.retrying:queued',
        'task.started:running',
        'lease.expired:lost',
        'task.lost:lost',
      ]);
      const { task } = await store().createTask(newTask(), T0);
      await store().cancelTask(task.id, T0 + 1);
      assert.deepEqual(await historyOf(store(), task.id), [
        'task.created:queued',
        'task.cancelled:cancelled',
      ]);
    });

    it('reads forward from a cursor, by type, and newest first', async () => {
      for (let i = 0; i < 3; i++) await store().createTask(newTask(), T0 + i);
      const all = await store().listEvents({ limit: 10 });
      assert.equal(all.length, 3);
      assert.ok(all[0]!.id < all[1]!.id && all[1]!.id < all[2]!.id);
      const after = await store().listEvents({ after: all[0]!.id, limit: 1 });
      assert.deepEqual(after, [all[1]]);
      const newest = await store().listEvents({ limit: 2, order: 'desc' });
      assert.deepEqual(newest, [all[2], all[1]]);
      assert.deepEqual(await store().listEvents({ type: 'task.started', limit: 10 }), []);
    });

    it('appends events from outside, with the named task looked up', async () => {
      const { task } = await store().createTask(newTask(), T0);
      const data = { note: 'progress', n: 1 };
      const event = await store().appendEvent({ type: 'runner.note', taskId: task.id, data }, T0);
      const expected: StoredEvent = {
        id: event.id,
        type: 'runner.note',
        at: T0,
        taskId: task.id,
        taskKind: 'shell',
        taskState: 'queued',
        data,
        task: { origin: 'v1' },
      };
      assert.deepEqual(event, expected);
      const plain = await store().appendEvent({ type: 'x' }, T0 + 1);
      assert.deepEqual(plain, { id: plain.id, type: 'x', at: T0 + 1 });
    });

    it('counts events by type and by task state', async () => {
      await startTask(store());
      await store().appendEvent({ type: 'x' }, T0 + 9);
      const stats = await store().eventStats();
      assert.equal(stats.total, 3);
      assert.deepEqual(stats.byType, [
        { type: 'task.created', count: 1 },
        { type: 'task.started', count: 1 },
        { type: 'x', count: 1 },
      ]);
      assert.deepEqual(stats.byState, [
        { state: 'queued', count: 1 },
        { state: 'running', count: 1 },
      ]);
      assert.equal(stats.oldestAt, T0);
      assert.equal(stats.newestAt, T0 + 9);
    });
  });

  describe('attempt history and runner restarts', () => {
    it('records every attempt with its runner, times and ending', async () => {
      const first = await startTask(store(), { maxAttempts: 2 });
      const taskId = first.task.id;
      await store().requeueExpired(T0 + LEASE_MS, 10);
      const second = await claimOne(store(), { runner: 'r2', instanceId: 'b', now: T0 + LEASE_MS });
      const { leaseToken } = second;
      const running = { attempt: 2, runner: 'r2', instanceId: 'b', startedAt: T0 + LEASE_MS };
      assert.deepEqual((await store().listAttempts(taskId))[1], running);
      await store().finishAttempt({
        taskId,
        leaseToken,
        outcome: SUCCEEDED,
        now: T0 + LEASE_MS + 3,
      });
      assert.deepEqual(await store().listAttempts(taskId), [
        {
          attempt: 1,
          runner: 'r1',
          startedAt: T0,
          endedAt: T0 + LEASE_MS,
          status: 'lost',
          reason: 'Lease expired: the runner stopped reporting',
        },
        {
          attempt: 2,
          runner: 'r2',
          instanceId: 'b',
          startedAt: T0 + LEASE_MS,
          endedAt: T0 + LEASE_MS + 3,
          status: 'succeeded',
        },
      ]);
    });

    it('forgets an undelivered attempt', async () => {
      const claim = await startTask(store());
      const ref = { taskId: claim.task.id, leaseToken: claim.leaseToken };
      await store().releaseLeases([ref], T0 + 1);
      assert.deepEqual(await store().listAttempts(claim.task.id), []);
    });

    it("ends the leases of a runner's earlier instance at once, not those of others", async () => {
      for (let i = 0; i < 4; i++)
        await store().createTask(newTask({ maxAttempts: i < 3 ? 2 : 1 }), T0);
      const old = await store().claimTasks(claimRequest({ instanceId: 'old', max: 2 }));
      await ack(store(), old);
      const current = await claimOne(store(), { instanceId: 'new' });
      const other = await claimOne(store(), { runner: 'r2', instanceId: 'old' });
      const released = await store().releaseInstance('r1', 'new', T0 + 7);
      const ids = old.map((c) => c.task.id).sort();
      assert.deepEqual(released.map((t) => t.id).sort(), ids);
      assert.deepEqual(
        released.map((t) => t.state),
        ['queued', 'queued'],
      );
      assert.equal(old[0]!.task.attempt, 1);
      for (const claim of [current, other])
        assert.equal((await store().getTask(claim.task.id))?.state, 'running');
      assert.deepEqual(await store().releaseInstance('r1', 'new', T0 + 8), [], 'idempotent');
      const [event] = await store().listEvents({ type: 'lease.released', limit: 1 });
      assert.equal(event?.data?.reason, 'The runner restarted while the attempt ran');
    });

    it('ends a released task lost on its last attempt, cancelled when cancel was asked', async () => {
      await store().createTask(newTask({ maxAttempts: 1 }), T0);
      await store().createTask(newTask({ maxAttempts: 3 }), T0 + 1);
      const claims = await store().claimTasks(claimRequest({ instanceId: 'old', max: 2 }));
      await ack(store(), claims);
      const [last, asked] = claims;
      await store().cancelTask(asked!.task.id, T0 + 1);
      const legacy = await store().createTask(newTask(), T0 + 2);
      await claimOne(store(), { legacy: true, now: T0 + 2 });
      const released = await store().releaseInstance('r1', 'new', T0 + 3);
      const states = new Map(released.map((t) => [t.id, t.state]));
      assert.equal(states.get(last!.task.id), 'lost');
      assert.equal(states.get(asked!.task.id), 'cancelled');
      assert.equal(states.has(legacy.task.id), false, 'a legacy poller has no instance');
    });
  });
}
