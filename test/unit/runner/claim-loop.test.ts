// The claim loop against a scripted client: the next long poll goes out while the last reply's
// claims are still being acknowledged, those claims hold their slots meanwhile, and the loop ends
// only once every acknowledged claim has started.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Claim, ClaimBody, ClaimReply, HeartbeatReply } from '../../../src/protocol/runner.ts';
import type { Task } from '../../../src/protocol/tasks.ts';
import { runClaimLoop } from '../../../src/runner/claim-loop.ts';
import { RunningAttempts } from '../../../src/runner/running-attempts.ts';
import type { OutpostClient } from '../../../src/sdk/client.ts';

function claimOf(id: string): Claim {
  const task = { id, kind: 'shell', spec: { command: 'true' } } as unknown as Task;
  return { task, attempt: 1, leaseToken: `lease-${id}`, leaseExpiresAt: Date.now() + 30_000 };
}

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('claim loop', () => {
  it('polls again while a reply is acknowledged, and ends only after its claims start', async () => {
    const stopped = new AbortController();
    const attempts = new RunningAttempts();
    const polls: ClaimBody[] = [];
    const secondPoll = deferred<void>();
    const ack = deferred<HeartbeatReply>();
    const client = {
      claimTasks: (body: ClaimBody, opts: { signal?: AbortSignal }): Promise<ClaimReply> => {
        polls.push(body);
        if (polls.length === 1) return Promise.resolve({ tasks: [claimOf('t1'), claimOf('t2')] });
        secondPoll.resolve();
        return new Promise((_, reject) =>
          opts.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
        );
      },
      heartbeat: () => ack.promise,
    } as unknown as OutpostClient;
    const started: string[] = [];
    const loop = runClaimLoop({
      client,
      config: { name: 'box', capacity: 5, longPollMs: 30_000, retryBaseMs: 10, retryMaxMs: 50 },
      instanceId: 'i1',
      kinds: ['shell'],
      agents: [],
      attempts,
      log: () => undefined,
      signal: stopped.signal,
      start: (claim) => {
        started.push(claim.task.id);
        attempts.add(claim, Date.now());
      },
    });

    await secondPoll.promise;
    assert.deepEqual(started, [], 'nothing starts before its claim is acknowledged');
    assert.equal(polls[1]?.max, 3, 'the claims being acknowledged hold their slots');
    assert.equal(attempts.size, 2);

    stopped.abort();
    let ended = false;
    void loop.then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(ended, false, 'the loop waits for the acknowledgement in flight');

    ack.resolve({ leases: [], lost: [], cancel: [] });
    await loop;
    assert.deepEqual(started, ['t1', 't2']);
    assert.equal(attempts.size, 2, 'the reserved slots became the started attempts');
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
