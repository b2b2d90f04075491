// The claim loop against a scripted client: the next long poll goes out while the last reply's
// claims are still being acknowledged, those claims hold their slots meanwhile, and the loop ends
// only once every acknowledged claim has started.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClaimBody, HeartbeatReply } from '../../../src/protocol/runner.ts';
import { RunningAttempts } from '../../../src/runner/running-attempts.ts';
import { AppError } from '../../../src/protocol/errors.ts';
import {
  claimOf,
  deferred,
  loopWith,
  oneClaimThenPark,
  parked,
  until,
} from './claim-loop-fixtures.ts';

describe('claim loop', () => {
  it('polls again while a reply is acknowledged, and ends only after its claims start', async () => {
    const polls: ClaimBody[] = [];
    const secondPoll = deferred<void>();
    const ack = deferred<HeartbeatReply>();
    const run = loopWith(
      (body, opts) => {
        polls.push(body);
        if (polls.length === 1) return Promise.resolve({ tasks: [claimOf('t1'), claimOf('t2')] });
        secondPoll.resolve();
        return parked(opts);
      },
      { capacity: 5, claimAcks: false, ack: ack.promise },
    );

    await secondPoll.promise;
    assert.deepEqual(run.started, [], 'nothing starts before its claim is acknowledged');
    assert.equal(polls[1]?.max, 3, 'the claims being acknowledged hold their slots');
    assert.equal(polls[1]?.acks, undefined, 'a server without claim-acks is not sent them');
    assert.equal(run.attempts.size, 2);

    run.stopped.abort();
    let ended = false;
    void run.loop.then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(ended, false, 'the loop waits for the acknowledgement in flight');

    ack.resolve({ leases: [], lost: [], cancel: [] });
    await run.loop;
    assert.deepEqual(run.started, ['t1', 't2']);
    assert.equal(run.attempts.size, 2, 'the reserved slots became the started attempts');
  });
});

describe('claim loop, acknowledging in the next claim', () => {
  it('sends the acknowledgements with the next claim, which does not wait, and starts on its answer', async () => {
    const polls: ClaimBody[] = [];
    const third = deferred<void>();
    const run = loopWith((body, opts) => {
      polls.push(body);
      if (polls.length === 1) return Promise.resolve({ tasks: [claimOf('t1'), claimOf('t2')] });
      if (polls.length === 2) {
        const acked = { leases: [], lost: ['t2'], cancel: [] };
        return Promise.resolve({ tasks: [claimOf('t3')], acked });
      }
      if (polls.length === 3)
        return Promise.resolve({ tasks: [], acked: { leases: [], lost: [], cancel: [] } });
      third.resolve();
      return parked(opts);
    });
    await third.promise;
    assert.deepEqual(polls[0]?.acks, undefined);
    assert.equal(polls[0]?.waitMs, 30_000);
    assert.deepEqual(polls[1]?.acks, [
      { taskId: 't1', leaseToken: 'lease-t1' },
      { taskId: 't2', leaseToken: 'lease-t2' },
    ]);
    assert.equal(polls[1]?.waitMs, 0, 'a claim carrying acknowledgements does not wait');
    assert.equal(polls[1]?.max, 2, 'the claims being acknowledged hold their slots');
    assert.deepEqual(polls[2]?.acks, [{ taskId: 't3', leaseToken: 'lease-t3' }]);
    assert.equal(polls[3]?.acks, undefined, 'an empty reply leaves nothing to acknowledge');
    assert.equal(polls[3]?.waitMs, 30_000);
    assert.deepEqual(run.started, ['t1', 't3'], 'a lease reported lost is not started');
    assert.deepEqual(run.heartbeats, [], 'no heartbeat was needed');
    assert.equal(run.attempts.size, 2);
    run.stopped.abort();
    await run.loop;
  });

  it('acknowledges by heartbeat when a claim carrying them fails, and stops sending them after a 400', async () => {
    const polls: ClaimBody[] = [];
    const parkedPoll = deferred<void>();
    const run = loopWith((body, opts) => {
      polls.push(body);
      if (polls.length === 1) return Promise.resolve({ tasks: [claimOf('t1')] });
      if (polls.length === 2)
        return Promise.reject(new AppError('bad_request', 'acks: unknown field'));
      if (polls.length === 3) return Promise.resolve({ tasks: [claimOf('t2')] });
      parkedPoll.resolve();
      return parked(opts);
    });
    await parkedPoll.promise;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(polls[1]?.acks?.length, 1);
    assert.equal(polls[2]?.acks, undefined);
    assert.equal(polls[3]?.acks, undefined, 'an older server is not sent acks again');
    assert.deepEqual(run.heartbeats, [['t1'], ['t2']]);
    assert.deepEqual(run.started, ['t1', 't2']);
    run.stopped.abort();
    await run.loop;
  });

  it('acknowledges by heartbeat when no slot is left to claim with', async () => {
    const polls: ClaimBody[] = [];
    const run = loopWith(
      (body) => {
        polls.push(body);
        return Promise.resolve({ tasks: [claimOf('t1')] });
      },
      { capacity: 1 },
    );
    while (run.started.length === 0) await new Promise((r) => setImmediate(r));
    assert.deepEqual(run.heartbeats, [['t1']]);
    assert.equal(polls.length, 1, 'no claim goes out while the only slot runs t1');
    run.stopped.abort();
    await run.loop;
  });

  it('keeps acknowledging through a server outage while the lease may live, then starts', async () => {
    const run = loopWith(oneClaimThenPark(), { capacity: 1, failingAcks: 9 });
    await until(() => run.started.length > 0);
    assert.equal(run.heartbeats.length, 10, 'nine failed acknowledgements, then one answered');
    assert.deepEqual(run.started, ['t1']);
    run.stopped.abort();
    await run.loop;
  });

  it('gives up acknowledging after a few tries once the lease may have ended', async () => {
    const run = loopWith(oneClaimThenPark(), { capacity: 1, failingAcks: 100, leaseMs: 1 });
    await until(() => run.heartbeats.length >= 4);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(run.heartbeats.length, 4, 'no try after the fourth');
    assert.deepEqual(run.started, [], 'an unacknowledged claim never starts');
    run.stopped.abort();
    await run.loop;
  });

  it('acknowledges what it holds by heartbeat when stopped', async () => {
    const run = loopWith(() => {
      run.stopped.abort();
      return Promise.resolve({ tasks: [claimOf('t1')] });
    });
    await run.loop;
    assert.deepEqual(run.heartbeats, [['t1']]);
    assert.deepEqual(run.started, ['t1']);
  });
});

describe('running attempts', () => {
  it('frees a slot when an attempt only reports, within twice the capacity held', async () => {
    const attempts = new RunningAttempts();
    attempts.add(claimOf('a'), 0);
    attempts.add(claimOf('b'), 0);
    assert.equal(attempts.freeSlots(2), 0);
    const free = attempts.whenFree(2);
    attempts.markReporting('a');
    await free;
    assert.equal(attempts.freeSlots(2), 1, 'a reporting attempt holds no slot');
    attempts.add(claimOf('c'), 0);
    attempts.markReporting('b');
    attempts.markReporting('c');
    attempts.markReporting('c');
    assert.equal(attempts.freeSlots(2), 1, 'three held, all reporting: one more fits under four');
    attempts.add(claimOf('d'), 0);
    assert.equal(attempts.freeSlots(2), 0, 'never more than twice the capacity held');
    attempts.remove('a');
    assert.equal(attempts.freeSlots(2), 1);
    assert.equal(attempts.size, 3);
  });
});
