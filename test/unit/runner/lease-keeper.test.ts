// The lease keeper against a scripted heartbeat: a lost lease stops a running attempt, but an
// attempt only reporting its outcome is left to its finish (whose answer may have been cut off
// after the server committed it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Claim, HeartbeatReply } from '../../../src/protocol/runner.ts';
import type { Task } from '../../../src/protocol/tasks.ts';
import { startLeaseKeeper } from '../../../src/runner/lease-keeper.ts';
import { RunningAttempts } from '../../../src/runner/running-attempts.ts';
import type { OutpostClient } from '../../../src/sdk/client.ts';

function claimOf(id: string): Claim {
  const task = { id, kind: 'shell', spec: { command: 'true' } } as unknown as Task;
  return { task, attempt: 1, leaseToken: `lease-${id}`, leaseExpiresAt: Date.now() + 30_000 };
}

describe('lease keeper', () => {
  it('stops a running attempt whose lease is lost, not one that is reporting', async () => {
    const attempts = new RunningAttempts();
    attempts.add(claimOf('running'), Date.now());
    attempts.add(claimOf('reporting'), Date.now());
    attempts.markReporting('reporting');
    const logs: string[] = [];
    let beats = 0;
    const client = {
      heartbeat: (): Promise<HeartbeatReply> => {
        beats += 1;
        return Promise.resolve({ leases: [], lost: ['running', 'reporting'], cancel: [] });
      },
    } as unknown as OutpostClient;
    const keeper = startLeaseKeeper({
      client,
      runnerName: 'box',
      attempts,
      log: (_level, message) => logs.push(message),
      heartbeatMs: 5,
      leaseMs: 60_000,
    });
    const until = Date.now() + 2_000;
    while (beats < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    keeper.stop();
    assert.equal(attempts.get('running')?.lost, true);
    assert.equal(attempts.get('running')?.controller.signal.aborted, true);
    assert.equal(attempts.get('reporting')?.lost, false);
    assert.equal(attempts.get('reporting')?.controller.signal.aborted, false);
    assert.equal(logs.filter((m) => m.startsWith('lease lost')).length, 1);
  });

  it('applies an answer that came another way (a claim acknowledgement) as a beat would', () => {
    const attempts = new RunningAttempts();
    attempts.add(claimOf('renewed'), 0);
    attempts.add(claimOf('gone'), 0);
    attempts.add(claimOf('cancelled'), 0);
    const client = {
      heartbeat: () => Promise.reject(new Error('no beat in this test')),
    } as unknown as OutpostClient;
    const keeper = startLeaseKeeper({
      client,
      runnerName: 'box',
      attempts,
      log: () => undefined,
      heartbeatMs: 60_000,
      leaseMs: 120_000,
    });
    const before = Date.now();
    keeper.apply({
      leases: [{ taskId: 'renewed', leaseExpiresAt: before + 30_000 }],
      lost: ['gone'],
      cancel: ['cancelled'],
    });
    keeper.stop();
    assert.ok(attempts.get('renewed')!.renewedAt >= before, 'the renewal is recorded');
    assert.equal(attempts.get('renewed')?.controller.signal.aborted, false);
    assert.equal(attempts.get('gone')?.lost, true);
    assert.equal(attempts.get('gone')?.controller.signal.aborted, true);
    assert.equal(attempts.get('cancelled')?.lost, false);
    assert.equal(attempts.get('cancelled')?.controller.signal.aborted, true);
  });
});
