// The claim loop and read-only tasks: `file.read` and `file.list` start as soon as their claim
// arrives, while other kinds wait for the acknowledgement; the reads are acknowledged for the
// record with the next claim, and the answer is applied to them as a heartbeat's would be.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClaimBody } from '../../../src/protocol/runner.ts';
import { claimOf, deferred, loopWith, parked, type LoopOptions } from './claim-loop-fixtures.ts';

/** A loop whose first claim answers one read (r1) and whose later claims park; at the second claim. */
async function oneReadThenSecondClaim(options: LoopOptions) {
  const polls: ClaimBody[] = [];
  const secondPoll = deferred<void>();
  const run = loopWith((body, opts) => {
    polls.push(body);
    if (polls.length === 1) return Promise.resolve({ tasks: [claimOf('r1', 'file.read')] });
    secondPoll.resolve();
    return parked(opts);
  }, options);
  await secondPoll.promise;
  return { run, polls };
}

describe('claim loop, read-only tasks', () => {
  it('starts reads at once and acknowledges them with the next claim', async () => {
    const polls: ClaimBody[] = [];
    const secondPoll = deferred<void>();
    const answer = deferred<void>();
    const thirdPoll = deferred<void>();
    const run = loopWith((body, opts) => {
      polls.push(body);
      if (polls.length === 1) {
        return Promise.resolve({
          tasks: [claimOf('r1', 'file.read'), claimOf('s1'), claimOf('l1', 'file.list')],
        });
      }
      if (polls.length === 2) {
        secondPoll.resolve();
        const acked = { leases: [], lost: ['l1'], cancel: ['r1'] };
        return answer.promise.then(() => ({ tasks: [], acked }));
      }
      thirdPoll.resolve();
      return parked(opts);
    });
    await secondPoll.promise;
    assert.deepEqual(run.started, ['r1', 'l1'], 'the reads run while their claim is acknowledged');
    assert.deepEqual(
      polls[1]?.acks?.map((a) => a.taskId),
      ['s1', 'r1', 'l1'],
    );
    assert.equal(polls[1]?.waitMs, 0);
    assert.equal(polls[1]?.max, 1, 'two reads run and the shell task holds a slot');
    answer.resolve();
    await thirdPoll.promise;
    assert.deepEqual(run.started, ['r1', 'l1', 's1']);
    assert.deepEqual(run.applied, [{ leases: [], lost: ['l1'], cancel: ['r1'] }]);
    assert.equal(polls[2]?.acks, undefined, 'acknowledged once');
    assert.deepEqual(run.heartbeats, []);
    run.stopped.abort();
    await run.loop;
  });

  it('leaves out the acknowledgement of a read that already ended', async () => {
    const { run, polls } = await oneReadThenSecondClaim({ doneAtOnce: true });
    assert.deepEqual(run.started, ['r1']);
    assert.equal(polls[1]?.acks, undefined, 'its finish says more than an acknowledgement');
    assert.equal(polls[1]?.waitMs, 30_000, 'so the next claim is a long poll');
    run.stopped.abort();
    await run.loop;
  });

  it('leaves reads to the lease keeper when no claim can carry their acknowledgement', async () => {
    const { run, polls } = await oneReadThenSecondClaim({ claimAcks: false });
    assert.deepEqual(run.started, ['r1']);
    assert.equal(polls[1]?.acks, undefined, 'a server without claim-acks is not sent them');
    assert.deepEqual(run.heartbeats, [], 'and no heartbeat of its own: the keeper beats for it');
    run.stopped.abort();
    await run.loop;
  });

  it('sends no heartbeat of its own when a claim carrying only reads fails', async () => {
    const polls: ClaimBody[] = [];
    const thirdPoll = deferred<void>();
    const run = loopWith((body, opts) => {
      polls.push(body);
      if (polls.length === 1) return Promise.resolve({ tasks: [claimOf('r1', 'file.read')] });
      if (polls.length === 2) return Promise.reject(new TypeError('fetch failed'));
      thirdPoll.resolve();
      return parked(opts);
    });
    await thirdPoll.promise;
    assert.deepEqual(
      polls[1]?.acks?.map((a) => a.taskId),
      ['r1'],
    );
    assert.deepEqual(run.started, ['r1']);
    assert.deepEqual(run.heartbeats, [], 'the lease keeper acknowledges the running read');
    assert.equal(run.attempts.size, 1, 'no slot was reserved for it');
    run.stopped.abort();
    await run.loop;
  });
});
