// Conformance: approvals — a runner holds its leased task for a person (state held, lease kept),
// a decision made through the API reaches its heartbeat, and the task resumes or ends.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Claim } from '../../../src/protocol/runner.ts';
import type { HoldDecision } from '../../../src/protocol/approvals.ts';
import type { Outcome } from '../../../src/protocol/tasks.ts';
import type { Store } from '../../../src/store/types.ts';
import { addTasks, claimRequest, LEASE_MS, newTask, startTask, T0 } from './fixtures.ts';

const RULE = 'commands.requireApproval[0]';

function hold(
  store: Store,
  claim: Claim,
  now: number,
  reason = 'needs approval',
  refusedAt?: number,
) {
  const { leaseToken } = claim;
  const expiresAt = now + 900_000;
  return store.holdAttempt({
    taskId: claim.task.id,
    leaseToken,
    reason,
    rule: RULE,
    expiresAt,
    now,
    ...(refusedAt !== undefined ? { refusedAt } : {}),
  });
}

function beat(store: Store, claim: Claim, now: number) {
  const leases = [{ taskId: claim.task.id, leaseToken: claim.leaseToken }];
  return store.extendLeases('r1', leases, LEASE_MS, now);
}

const approved = (at: number, by = 'token laptop'): HoldDecision => ({
  decision: 'approved',
  by,
  at,
  source: 'remote',
});

const REFUSED: Outcome = {
  status: 'failed',
  durationMs: 0,
  error: { kind: 'refused', rule: RULE, message: 'rejected by local user me', retryable: false },
};

export function describeHolds(store: () => Store): void {
  describe('holds for approval', () => {
    it('holds a running task with its reason; the lease lives on and nobody else claims it', async () => {
      const claim = await startTask(store());
      const held = await hold(store(), claim, T0 + 1, 'git push needs a person');
      assert.equal(held?.state, 'held');
      assert.deepEqual(held?.hold, {
        reason: 'git push needs a person',
        rule: RULE,
        heldAt: T0 + 1,
        expiresAt: T0 + 1 + 900_000,
      });
      assert.deepEqual((await store().getTask(claim.task.id))?.hold, held?.hold);
      const later = T0 + LEASE_MS - 1;
      const extended = await beat(store(), claim, later);
      assert.deepEqual(extended.leases, [
        { taskId: claim.task.id, leaseExpiresAt: later + LEASE_MS },
      ]);
      assert.deepEqual(extended.decisions, []);
      assert.deepEqual(await store().claimTasks(claimRequest({ runner: 'r2', now: later })), []);
      assert.deepEqual(await store().requeueExpired(T0 + LEASE_MS + 1, 10), [], 'not reaped');
      assert.equal((await store().getLease(claim.task.id))?.runner, 'r1');
      assert.equal((await store().countTasks()).held, 1);
    });

    it('refuses a hold with a stale lease token', async () => {
      const claim = await startTask(store());
      assert.equal(await hold(store(), { ...claim, leaseToken: 'stale' }, T0 + 1), undefined);
      assert.equal((await store().getTask(claim.task.id))?.state, 'running');
    });

    it('records a remote decision for the next heartbeat; holding again after refusing it clears it', async () => {
      const claim = await startTask(store());
      await hold(store(), claim, T0 + 1);
      const decided = await store().decideHold(claim.task.id, approved(T0 + 2), T0 + 2);
      assert.ok('task' in decided);
      assert.equal(decided.task.state, 'held');
      assert.deepEqual(decided.task.hold?.decision, approved(T0 + 2));
      assert.deepEqual((await beat(store(), claim, T0 + 3)).decisions, [
        { taskId: claim.task.id, decision: approved(T0 + 2) },
      ]);
      await hold(store(), claim, T0 + 4, 'a remote approval was refused: not signed', T0 + 2);
      const after = await store().getTask(claim.task.id);
      assert.equal(after?.hold?.decision, undefined);
      assert.equal(after?.hold?.reason, 'a remote approval was refused: not signed');
      assert.deepEqual((await beat(store(), claim, T0 + 5)).decisions, []);
    });

    it('keeps a decision made after the one the runner refused when it holds again', async () => {
      const claim = await startTask(store());
      await hold(store(), claim, T0 + 1);
      await store().decideHold(claim.task.id, approved(T0 + 2, 'token forger'), T0 + 2);
      await store().decideHold(claim.task.id, approved(T0 + 3), T0 + 3);
      await hold(store(), claim, T0 + 4, 'a remote approval was refused', T0 + 2);
      assert.deepEqual((await store().getTask(claim.task.id))?.hold?.decision, approved(T0 + 3));
      assert.deepEqual((await beat(store(), claim, T0 + 5)).decisions, [
        { taskId: claim.task.id, decision: approved(T0 + 3) },
      ]);
    });

    it('refuses a decision on an unknown task or one no runner holds', async () => {
      const [queued] = await addTasks(store(), 1);
      assert.deepEqual(await store().decideHold('nope', approved(T0), T0), {
        refused: 'not_found',
      });
      assert.deepEqual(await store().decideHold(queued!, approved(T0), T0), {
        refused: 'not_held',
      });
    });

    it('resumes an approved task in the same attempt, keeping the decision', async () => {
      const claim = await startTask(store());
      await hold(store(), claim, T0 + 1);
      const local: HoldDecision = {
        decision: 'approved',
        by: 'local user me',
        at: T0 + 2,
        source: 'local',
      };
      const stale = await store().resumeAttempt(claim.task.id, 'stale', local, T0 + 2);
      assert.equal(stale, undefined);
      const resumed = await store().resumeAttempt(claim.task.id, claim.leaseToken, local, T0 + 2);
      assert.equal(resumed?.state, 'running');
      assert.equal(resumed?.attempt, 1);
      assert.deepEqual(resumed?.hold?.decision, local);
      assert.equal(
        await store().resumeAttempt(claim.task.id, claim.leaseToken, local, T0 + 3),
        undefined,
        'only a held task resumes',
      );
      const events = await store().listEvents({ taskId: claim.task.id, limit: 20 });
      assert.deepEqual(
        events.map((e) => e.type).filter((t) => t === 'task.held' || t === 'task.resumed'),
        ['task.held', 'task.resumed'],
      );
    });

    it('finishes a rejected task from held, fenced by its lease token', async () => {
      const claim = await startTask(store());
      await hold(store(), claim, T0 + 1);
      const ended = await store().finishAttempt({
        taskId: claim.task.id,
        leaseToken: claim.leaseToken,
        outcome: REFUSED,
        now: T0 + 2,
      });
      assert.equal(ended?.state, 'failed');
      assert.equal(ended?.outcome?.error?.kind, 'refused');
      assert.equal(ended?.hold?.rule, RULE, 'the hold stays as history');
    });

    it('asks the holding runner to cancel instead of ending the task under it', async () => {
      const claim = await startTask(store());
      await hold(store(), claim, T0 + 1);
      const cancelled = await store().cancelTask(claim.task.id, T0 + 2);
      assert.equal(cancelled?.state, 'held');
      assert.equal(cancelled?.cancelRequested, true);
      assert.deepEqual((await beat(store(), claim, T0 + 3)).cancel, [claim.task.id]);
    });

    it('requeues a held task whose runner stopped heartbeating, forgetting the hold', async () => {
      const claim = await startTask(store(), { maxAttempts: 2 });
      await hold(store(), claim, T0 + 1);
      const [requeued] = await store().requeueExpired(T0 + LEASE_MS, 10);
      assert.equal(requeued?.state, 'queued');
      assert.equal(requeued?.hold, undefined);
      assert.equal((await store().claimTasks(claimRequest({ now: T0 + LEASE_MS })))[0]?.attempt, 2);
    });

    it('gives a held lease the grace of a starting server, as a running one', async () => {
      const claim = await startTask(store());
      await hold(store(), claim, T0 + 1);
      const until = T0 + 10 * LEASE_MS;
      assert.equal(await store().extendRunningLeases(until, T0 + 2), 1);
      assert.equal((await store().getLease(claim.task.id))?.leaseExpiresAt, until);
      assert.deepEqual(await store().requeueExpired(until - 1, 10), [], 'not reaped in the grace');
    });

    it('ends the held leases of a restarted runner instance', async () => {
      const { task } = await store().createTask(newTask({ maxAttempts: 1 }), T0);
      const [claim] = await store().claimTasks(claimRequest({ instanceId: 'old', max: 1 }));
      await beat(store(), claim!, T0);
      await hold(store(), claim!, T0 + 1);
      const released = await store().releaseInstance('r1', 'new', T0 + 2);
      assert.deepEqual(
        released.map((t) => [t.id, t.state]),
        [[task.id, 'lost']],
      );
    });
  });
}
