// Conformance: leases — fencing by lease token, heartbeats, finishing, retries and expiry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Claim } from '../../../src/protocol/runner.ts';
import type { Outcome } from '../../../src/protocol/tasks.ts';
import type { RetryPolicy, Store } from '../../../src/store/types.ts';
import {
  addTasks,
  claimOne,
  claimRequest,
  FAILED,
  LEASE_MS,
  newTask,
  startTask,
  SUCCEEDED,
  T0,
} from './fixtures.ts';
import { describeFinishBatches } from './leases-batch.ts';

const EXPIRED = T0 + LEASE_MS;

/** Base 5 s, no jitter: the first retry waits 5 s, the second 10 s, capped at 8 s here. */
const RETRY: RetryPolicy = { baseMs: 5_000, maxMs: 8_000, jitter: 1 };

function finish(store: Store, claim: Claim, now: number, outcome: Outcome = SUCCEEDED) {
  const { leaseToken } = claim;
  return store.finishAttempt({ taskId: claim.task.id, leaseToken, outcome, now, retry: RETRY });
}

const NOT_RETRYABLE: Outcome = { ...FAILED, error: { ...FAILED.error!, retryable: false } };

function heartbeat(store: Store, claims: Claim[], now: number, runner = 'r1') {
  const leases = claims.map((c) => ({ taskId: c.task.id, leaseToken: c.leaseToken }));
  return store.extendLeases(runner, leases, LEASE_MS, now);
}

export function describeLeases(store: () => Store): void {
  describe('releasing undelivered leases', () => {
    it('returns a claimed task to the queue without counting the attempt', async () => {
      const claim = await startTask(store());
      const [released] = await store().releaseLeases(
        [{ taskId: claim.task.id, leaseToken: claim.leaseToken }],
        T0 + 5,
      );
      assert.equal(released?.state, 'queued');
      assert.equal(released?.attempt, 0);
      assert.equal(released?.startedAt, undefined);
      assert.equal(await finish(store(), claim, T0 + 6), undefined, 'the old lease is gone');
      const again = await claimOne(store(), { now: T0 + 7 });
      assert.equal(again.task.id, claim.task.id);
      assert.equal(again.attempt, 1);
    });

    it('ignores a release with a stale token', async () => {
      const claim = await startTask(store());
      const stale = [{ taskId: claim.task.id, leaseToken: 'stale' }];
      assert.deepEqual(await store().releaseLeases(stale, T0 + 5), []);
      assert.equal((await store().getTask(claim.task.id))?.state, 'running');
    });
  });

  describe('finishing attempts', () => {
    it('finishes an attempt with its outcome and clears the lease', async () => {
      const claim = await startTask(store());
      const done = await finish(store(), claim, T0 + 50);
      const { leaseExpiresAt: _lease, ...running } = claim.task;
      assert.deepEqual(done, {
        ...running,
        state: 'succeeded',
        outcome: SUCCEEDED,
        finishedAt: T0 + 50,
        updatedAt: T0 + 50,
      });
      assert.equal(await store().getLease(claim.task.id), undefined);
      assert.equal(await finish(store(), claim, T0 + 60), undefined, 'a lease finishes once');
    });

    it('refuses to finish an attempt with a wrong lease token', async () => {
      const claim = await startTask(store());
      const forged = { ...claim, leaseToken: 'not-the-token' };
      assert.equal(await finish(store(), forged, T0 + 1), undefined);
      assert.equal((await store().getTask(claim.task.id))?.state, 'running');
    });

    it('lets an expired lease finish until the task is requeued', async () => {
      const claim = await startTask(store());
      assert.equal((await finish(store(), claim, EXPIRED + 5_000))?.state, 'succeeded');
    });

    it('fences the old lease after its task is requeued and claimed again', async () => {
      const old = await startTask(store(), { maxAttempts: 2 });
      assert.equal((await store().requeueExpired(EXPIRED, 10)).length, 1);
      const fresh = await claimOne(store(), { runner: 'r2', now: EXPIRED });
      assert.equal(fresh.attempt, 2);
      assert.equal(await finish(store(), old, EXPIRED + 1), undefined);
      assert.deepEqual((await heartbeat(store(), [old], EXPIRED + 1)).lost, [old.task.id]);
      assert.deepEqual((await heartbeat(store(), [old], EXPIRED + 1, 'r2')).lost, [old.task.id]);
      assert.equal((await finish(store(), fresh, EXPIRED + 2))?.state, 'succeeded');
    });

    it('requeues a retryable failure after the backoff, keeping the outcome', async () => {
      const claim = await startTask(store(), { maxAttempts: 3 });
      const retrying = await finish(store(), claim, T0 + 10, FAILED);
      assert.equal(retrying?.state, 'queued');
      assert.equal(retrying?.runAt, T0 + 10 + 5_000);
      assert.deepEqual(retrying?.outcome, FAILED);
      assert.equal(retrying?.leaseExpiresAt, undefined);
      assert.equal(await store().getLease(claim.task.id), undefined);
      assert.deepEqual(await store().claimTasks(claimRequest({ now: T0 + 5_009 })), []);
      const second = await claimOne(store(), { now: T0 + 5_010 });
      assert.equal(second.attempt, 2);
      const again = await finish(store(), second, T0 + 6_000, FAILED);
      assert.equal(again?.runAt, T0 + 6_000 + 8_000, 'doubled, then capped at maxMs');
      const third = await claimOne(store(), { now: T0 + 14_000 });
      const last = await finish(store(), third, T0 + 14_001, FAILED);
      assert.equal(last?.state, 'failed', 'no attempts left');
      assert.equal(last?.finishedAt, T0 + 14_001);
    });

    it('retries a non-retryable failure only when the task asks to retry on failure', async () => {
      const plain = await startTask(store(), { maxAttempts: 3 });
      assert.equal((await finish(store(), plain, T0 + 1, NOT_RETRYABLE))?.state, 'failed');
      const eager = await startTask(store(), { maxAttempts: 3, retryOnFailure: true });
      assert.equal((await finish(store(), eager, T0 + 1, NOT_RETRYABLE))?.state, 'queued');
      const slow = await startTask(store(), { maxAttempts: 3, retryOnFailure: true });
      const timedOut: Outcome = { ...NOT_RETRYABLE, status: 'timed_out' };
      assert.equal((await finish(store(), slow, T0 + 1, timedOut))?.state, 'queued');
    });

    it('never retries a success or a cancellation', async () => {
      const ok = await startTask(store(), { maxAttempts: 3, retryOnFailure: true });
      assert.equal((await finish(store(), ok, T0 + 1))?.state, 'succeeded');
      const cancelled: Outcome = {
        status: 'cancelled',
        error: { ...FAILED.error!, kind: 'cancelled' },
      };
      const stopped = await startTask(store(), { maxAttempts: 3, retryOnFailure: true });
      assert.equal((await finish(store(), stopped, T0 + 1, cancelled))?.state, 'cancelled');
    });

    it('ends the attempt instead of retrying when cancel was requested', async () => {
      const claim = await startTask(store(), { maxAttempts: 3 });
      await store().cancelTask(claim.task.id, T0 + 1);
      const ended = await finish(store(), claim, T0 + 2, FAILED);
      assert.equal(ended?.state, 'failed');
      assert.equal(ended?.finishedAt, T0 + 2);
    });
  });

  describe('heartbeats', () => {
    it('extends live leases and reports lost leases and requested cancels', async () => {
      await addTasks(store(), 3);
      const [live, cancelling, forged] = await store().claimTasks({
        runner: 'r1',
        kinds: ['shell'],
        max: 3,
        leaseMs: 1_000,
        now: T0,
      });
      await store().cancelTask(cancelling!.task.id, T0 + 1);
      const unknown = { ...live!, task: { ...live!.task, id: newTask().id } };
      const beat = await heartbeat(
        store(),
        [live!, cancelling!, { ...forged!, leaseToken: 'x' }, unknown],
        T0 + 500,
      );
      const extended = T0 + 500 + LEASE_MS;
      assert.deepEqual(beat.leases, [
        { taskId: live!.task.id, leaseExpiresAt: extended },
        { taskId: cancelling!.task.id, leaseExpiresAt: extended },
      ]);
      assert.deepEqual(beat.cancel, [cancelling!.task.id]);
      assert.deepEqual(beat.lost, [forged!.task.id, unknown.task.id]);
      assert.equal((await store().getLease(live!.task.id))?.leaseExpiresAt, extended);
    });

    it('reports a lease held by another runner as lost', async () => {
      const claim = await startTask(store());
      assert.deepEqual(await heartbeat(store(), [claim], T0 + 1, 'r2'), {
        leases: [],
        lost: [claim.task.id],
        cancel: [],
        decisions: [],
      });
    });

    it('reports an expired lease as lost', async () => {
      const claim = await startTask(store());
      assert.deepEqual((await heartbeat(store(), [claim], EXPIRED)).lost, [claim.task.id]);
    });

    it('returns the current lease of a running task only', async () => {
      const claim = await startTask(store());
      const lease = {
        leaseToken: claim.leaseToken,
        runner: 'r1',
        legacy: false,
        attempt: 1,
        leaseExpiresAt: EXPIRED,
      };
      assert.deepEqual(await store().getLease(claim.task.id), lease);
      const [queued] = await addTasks(store(), 1);
      assert.equal(await store().getLease(queued!), undefined);
      assert.equal(await store().getLease(newTask().id), undefined);
    });
  });

  describe('expired leases', () => {
    it('gives back a claim its runner never acknowledged, without counting the attempt', async () => {
      const [id] = await addTasks(store(), 1, { maxAttempts: 1 });
      const [claim] = await store().claimTasks(claimRequest({ max: 1 }));
      assert.equal(claim?.task.id, id);
      const [back] = await store().requeueExpired(EXPIRED, 10);
      assert.deepEqual([back?.state, back?.attempt, back?.startedAt], ['queued', 0, undefined]);
      assert.deepEqual(await store().listAttempts(id!), []);
      const [event] = await store().listEvents({ type: 'lease.released', limit: 1 });
      assert.equal(event?.data?.reason, 'the runner never acknowledged the claim');
      assert.equal((await claimOne(store(), { now: EXPIRED })).attempt, 1, 'runs after all');
    });

    it('counts a legacy claim from the start, since a legacy poller cannot acknowledge', async () => {
      await addTasks(store(), 1, { maxAttempts: 1, timeoutMs: 1_000 });
      await store().claimTasks(claimRequest({ max: 1, legacy: true }));
      const [lost] = await store().requeueExpired(T0 + 1_000 + LEASE_MS, 10);
      assert.equal(lost?.state, 'lost');
    });

    it('extends running leases after a restart, never shortening one or touching others', async () => {
      const soon = await startTask(store());
      const later = await startTask(store());
      const [queued] = await addTasks(store(), 1);
      await heartbeat(store(), [later], T0 + 20_000);
      const until = T0 + 40_000;
      assert.equal(await store().extendRunningLeases(until, T0 + 10_000), 1);
      assert.equal((await store().getLease(soon.task.id))?.leaseExpiresAt, until);
      assert.equal((await store().getLease(later.task.id))?.leaseExpiresAt, T0 + 20_000 + LEASE_MS);
      assert.equal((await store().getTask(queued!))?.leaseExpiresAt, undefined);
      assert.deepEqual(await store().requeueExpired(EXPIRED, 10), [], 'nothing expired any more');
    });

    it('requeues a task whose lease expired, and the next claim is attempt 2', async () => {
      const claim = await startTask(store(), { maxAttempts: 2 });
      const [requeued] = await store().requeueExpired(EXPIRED, 10);
      assert.equal(requeued?.state, 'queued');
      assert.equal(requeued?.attempt, 1);
      assert.equal(requeued?.leaseExpiresAt, undefined);
      assert.equal((await claimOne(store(), { now: EXPIRED })).attempt, 2);
      assert.equal(claim.attempt, 1);
    });

    it('ends a task lost when its lease expires on the last attempt', async () => {
      await startTask(store(), { maxAttempts: 1 });
      const [lost] = await store().requeueExpired(EXPIRED + 1, 10);
      assert.equal(lost?.state, 'lost');
      assert.equal(lost?.finishedAt, EXPIRED + 1);
      assert.deepEqual(lost?.outcome, {
        status: 'lost',
        error: {
          kind: 'lost',
          message: 'Lease expired: the runner stopped reporting',
          retryable: false,
        },
      });
      assert.deepEqual(
        await store().claimTasks({
          runner: 'r1',
          kinds: ['shell'],
          max: 1,
          leaseMs: 1,
          now: EXPIRED + 2,
        }),
        [],
      );
    });

    it('ends an expired task cancelled when cancel was requested', async () => {
      const claim = await startTask(store(), { maxAttempts: 3 });
      await store().cancelTask(claim.task.id, T0 + 1);
      const [ended] = await store().requeueExpired(EXPIRED, 10);
      assert.equal(ended?.state, 'cancelled');
      assert.equal(ended?.outcome?.status, 'cancelled');
    });

    it('leaves unexpired leases alone', async () => {
      const claim = await startTask(store());
      assert.deepEqual(await store().requeueExpired(EXPIRED - 1, 10), []);
      assert.equal((await store().getLease(claim.task.id))?.leaseToken, claim.leaseToken);
    });

    it('requeues at most limit tasks per call, oldest lease first', async () => {
      await addTasks(store(), 3, { maxAttempts: 2 });
      const claims = [];
      for (let i = 0; i < 3; i++) claims.push(await claimOne(store(), { now: T0 + i }));
      const first = await store().requeueExpired(EXPIRED + 10, 2);
      assert.deepEqual(
        first.map((t) => t.id),
        [claims[0]!.task.id, claims[1]!.task.id],
      );
      assert.deepEqual(
        (await store().requeueExpired(EXPIRED + 10, 2)).map((t) => t.id),
        [claims[2]!.task.id],
      );
    });
  });
  describeFinishBatches(store);
}
