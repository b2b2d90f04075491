// Conformance: a running agent turn's provider session id, recorded before the turn ends and
// fenced by its lease token; the id a turn ends with, and the resume of the key's next turn.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Claim } from '../../../src/protocol/runner.ts';
import type { Outcome } from '../../../src/protocol/tasks.ts';
import type { NewTask, Store } from '../../../src/store/types.ts';
import { claimOne, LEASE_MS, newTask, SUCCEEDED, T0 } from './fixtures.ts';

/** A Claude turn of session key `key` (none when undefined). */
function turn(key: string | undefined, overrides: Partial<NewTask> = {}): NewTask {
  const spec = { agent: 'claude', prompt: 'hi' };
  return newTask({ kind: 'agent', spec, sessionKey: key, legacyCompatible: false, ...overrides });
}

const answered = (sessionId: string): Outcome => ({
  ...SUCCEEDED,
  output: { agent: 'claude', text: 'ok', sessionId, resumed: false },
});

async function providerOf(store: Store, key: string): Promise<string | undefined> {
  const [session] = await store.listSessions({ key, agent: 'claude', limit: 1 });
  return session?.providerSessionId;
}

function record(store: Store, claim: Claim, sessionId: string, now: number) {
  return store.recordTurnSession(claim.task.id, claim.leaseToken, sessionId, now);
}

export function describeSessions(store: () => Store): void {
  describe("a running turn's provider session", () => {
    it('is recorded at once, and the next turn resumes it after the first ended lost', async () => {
      await store().createTask(turn('k1'), T0);
      const first = await claimOne(store());
      const { task: next } = await store().createTask(turn('k1'), T0 + 1);
      assert.equal(next.state, 'held');
      assert.equal(await record(store(), first, 'sess-early', T0 + 2), true);
      assert.equal(await providerOf(store(), 'k1'), 'sess-early');
      // The runner died: no finish, the lease runs out and the single attempt ends `lost`.
      const [lost] = await store().requeueExpired(T0 + LEASE_MS + 1, 10);
      assert.equal(lost?.state, 'lost');
      assert.equal(await providerOf(store(), 'k1'), 'sess-early');
      const second = await claimOne(store(), { now: T0 + LEASE_MS + 2 });
      assert.equal(second.task.id, next.id);
      assert.equal(second.task.spec.resume, 'sess-early');
    });

    it('is refused under a stale token or after the turn ended, and the finish has the last word', async () => {
      await store().createTask(turn('k2'), T0);
      const claim = await claimOne(store());
      const stale = { ...claim, leaseToken: 'not-the-token' };
      assert.equal(await record(store(), stale, 'sess-stale', T0 + 1), undefined);
      assert.equal(await providerOf(store(), 'k2'), undefined);
      assert.equal(await record(store(), claim, 'sess-first', T0 + 2), true);
      // A refused resume fell back to a fresh session: the turn ends with another id.
      const ended = await store().finishAttempt({
        taskId: claim.task.id,
        leaseToken: claim.leaseToken,
        outcome: answered('sess-fresh'),
        now: T0 + 3,
      });
      assert.equal(ended?.state, 'succeeded');
      assert.equal(await providerOf(store(), 'k2'), 'sess-fresh');
      assert.equal(await record(store(), claim, 'sess-first', T0 + 4), undefined, 'a late report');
      assert.equal(await providerOf(store(), 'k2'), 'sess-fresh');
    });

    it('is not recorded for a task without a session key, agent turn or not', async () => {
      await store().createTask(turn(undefined), T0);
      const agent = await claimOne(store());
      assert.equal(await record(store(), agent, 'sess-loose', T0 + 1), false);
      await store().createTask(newTask({ sessionKey: 'k3' }), T0);
      const shell = await claimOne(store());
      assert.equal(await record(store(), shell, 'sess-shell', T0 + 2), false);
      assert.deepEqual(await store().listSessions({ limit: 10 }), []);
      assert.equal((await store().getTask(agent.task.id))?.state, 'running', 'nothing else moved');
    });
  });
}
