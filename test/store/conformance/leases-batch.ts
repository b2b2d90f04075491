// Conformance: finishing a runner's batch of attempts at once — each fenced by its own lease
// token, answered in order, a lost lease in its place without failing the rest — and knowing a
// lease that a finish ended, so that a repeat of that finish is told from a late result.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Claim } from '../../../src/protocol/runner.ts';
import type { Outcome } from '../../../src/protocol/tasks.ts';
import type { FinishRequest, RetryPolicy, Store } from '../../../src/store/types.ts';
import { addTasks, ack, claimRequest, FAILED, LEASE_MS, SUCCEEDED, T0 } from './fixtures.ts';

const RETRY: RetryPolicy = { baseMs: 5_000, maxMs: 8_000, jitter: 1 };

function request(claim: Claim, outcome: Outcome, now: number): FinishRequest {
  return { taskId: claim.task.id, leaseToken: claim.leaseToken, outcome, now, retry: RETRY };
}

async function startTasks(store: Store, count: number, maxAttempts = 1): Promise<Claim[]> {
  await addTasks(store, count, { maxAttempts });
  const claims = await store.claimTasks(claimRequest({ max: count }));
  assert.equal(claims.length, count);
  await ack(store, claims, 'r1', T0);
  return claims;
}

export function describeFinishBatches(store: () => Store): void {
  describe('finishing a batch of attempts', () => {
    it('finishes each attempt as finishAttempt would, in request order', async () => {
      const [a, b] = await startTasks(store(), 2);
      const results = await store().finishAttempts([
        request(b!, FAILED, T0 + 20),
        request(a!, SUCCEEDED, T0 + 10),
      ]);
      assert.deepEqual(
        results.map((t) => [t?.id, t?.state, t?.finishedAt]),
        [
          [b!.task.id, 'failed', T0 + 20],
          [a!.task.id, 'succeeded', T0 + 10],
        ],
      );
      assert.deepEqual(results[1], await store().getTask(a!.task.id));
      assert.deepEqual((await store().getTask(b!.task.id))?.outcome, FAILED);
      const attempts = await store().listAttempts(a!.task.id);
      assert.deepEqual(
        attempts.map((x) => [x.attempt, x.status]),
        [[1, 'succeeded']],
      );
      const events = await store().listEvents({ taskId: b!.task.id, limit: 10 });
      assert.ok(events.some((e) => e.type === 'task.failed'));
    });

    it('answers a lost lease with undefined in its place and still finishes the others', async () => {
      const [a, b, c] = await startTasks(store(), 3);
      const forged = { ...b!, leaseToken: 'not-the-token' };
      const results = await store().finishAttempts([
        request(a!, SUCCEEDED, T0 + 1),
        request(forged, SUCCEEDED, T0 + 1),
        request(c!, SUCCEEDED, T0 + 1),
      ]);
      assert.deepEqual(
        results.map((t) => t?.state),
        ['succeeded', undefined, 'succeeded'],
      );
      assert.equal((await store().getTask(b!.task.id))?.state, 'running');
      assert.equal((await store().getLease(b!.task.id))?.leaseToken, b!.leaseToken);
    });

    it('finishes a lease once even when a batch names it twice', async () => {
      const [a] = await startTasks(store(), 1);
      const results = await store().finishAttempts([
        request(a!, SUCCEEDED, T0 + 1),
        request(a!, FAILED, T0 + 2),
      ]);
      assert.equal(results[0]?.state, 'succeeded');
      assert.equal(results[1], undefined);
      assert.deepEqual((await store().getTask(a!.task.id))?.outcome, SUCCEEDED);
    });

    it('requeues a retryable failure of a batch after its backoff', async () => {
      const [a, b] = await startTasks(store(), 2, 3);
      const results = await store().finishAttempts([
        request(a!, FAILED, T0 + 10),
        request(b!, SUCCEEDED, T0 + 10),
      ]);
      assert.equal(results[0]?.state, 'queued');
      assert.equal(results[0]?.runAt, T0 + 10 + 5_000);
      assert.equal(await store().getLease(a!.task.id), undefined);
      assert.equal(results[1]?.state, 'succeeded');
    });

    it('finishes only the leases of the runner a request names', async () => {
      const [a, b, c] = await startTasks(store(), 3, 3);
      const results = await store().finishAttempts([
        { ...request(a!, SUCCEEDED, T0 + 1), runner: 'r2' },
        { ...request(b!, FAILED, T0 + 1), runner: 'r2' },
        { ...request(c!, SUCCEEDED, T0 + 1), runner: 'r1' },
      ]);
      assert.deepEqual(
        results.map((t) => t?.state),
        [undefined, undefined, 'succeeded'],
      );
      const single = { ...request(a!, SUCCEEDED, T0 + 2), runner: 'r2' };
      assert.equal(await store().finishAttempt(single), undefined);
      for (const claim of [a!, b!]) {
        assert.equal((await store().getTask(claim.task.id))?.state, 'running');
        assert.equal((await store().getLease(claim.task.id))?.leaseToken, claim.leaseToken);
      }
    });

    it('does nothing for an empty batch', async () => {
      assert.deepEqual(await store().finishAttempts([]), []);
    });
  });

  describe('a lease ended by a finish', () => {
    it('is known by its token after a finish, not after a retry or the reaper', async () => {
      const [done, retried, reaped] = await startTasks(store(), 3, 3);
      const endedUnder = (c: Claim, token = c.leaseToken) => store().endedUnder(c.task.id, token);
      assert.equal(await endedUnder(done!), false, 'a live lease has not ended');
      await store().finishAttempts([
        request(done!, SUCCEEDED, T0 + 10),
        request(retried!, FAILED, T0 + 10),
      ]);
      assert.equal(await endedUnder(done!), true);
      assert.equal(await endedUnder(done!, 'another-token'), false);
      assert.equal((await store().getTask(retried!.task.id))?.state, 'queued');
      assert.equal(await endedUnder(retried!), false, 'a retry forgets the token');
      assert.equal((await store().requeueExpired(T0 + LEASE_MS + 1, 10)).length, 1);
      assert.equal((await store().getTask(reaped!.task.id))?.state, 'queued');
      assert.equal(await endedUnder(reaped!), false, 'so does the reaper');
    });
  });
}
