// Conformance: runners seen by hello, API tokens, and store upkeep (migrate, ping).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewToken, Store } from '../../../src/store/types.ts';
import { appError, newTask, runnerHello, T0 } from './fixtures.ts';

const MINUTE = 60_000;

function newToken(overrides: Partial<NewToken> = {}): NewToken {
  const id = newTask().id;
  return { id, name: 'laptop', role: 'runner', runner: 'r1', hash: `hash-${id}`, ...overrides };
}

export function describeRegistry(store: () => Store): void {
  describe('runners', () => {
    it('records a runner and keeps its first-seen time across hellos', async () => {
      await store().touchRunner(runnerHello(), T0);
      await store().touchRunner(
        runnerHello({ instanceId: 'i2', capacity: 8, policyDigest: 'sha256:ab' }),
        T0 + 10,
      );
      assert.deepEqual(await store().listRunners(T0 + 10, MINUTE), [
        {
          ...runnerHello({ instanceId: 'i2', capacity: 8, policyDigest: 'sha256:ab' }),
          running: 0,
          firstSeenAt: T0,
          lastSeenAt: T0 + 10,
          online: true,
        },
      ]);
    });

    it('reports runners online or offline by when they were last seen', async () => {
      await store().touchRunner(runnerHello({ name: 'old' }), T0);
      await store().touchRunner(runnerHello({ name: 'new', labels: ['gpu'] }), T0 + MINUTE);
      const runners = await store().listRunners(T0 + MINUTE + 1, MINUTE);
      const online = Object.fromEntries(runners.map((r) => [r.name, r.online]));
      assert.deepEqual(online, { old: false, new: true });
      assert.equal(runners.find((r) => r.name === 'old')?.policyDigest, undefined);
      assert.deepEqual(runners.find((r) => r.name === 'new')?.labels, ['gpu']);
    });
  });

  describe('tokens', () => {
    it('creates a token and finds it by hash, recording its use', async () => {
      const input = newToken();
      const created = await store().createToken(input, T0);
      assert.deepEqual(created, {
        id: input.id,
        name: 'laptop',
        role: 'runner',
        runner: 'r1',
        createdAt: T0,
      });
      assert.deepEqual(await store().findToken(input.hash, T0 + 5), {
        ...created,
        lastUsedAt: T0 + 5,
      });
      assert.equal(await store().findToken('unknown-hash', T0), undefined);
    });

    it('records token use at most once a minute', async () => {
      const input = newToken({ role: 'client', runner: undefined });
      await store().createToken(input, T0);
      await store().findToken(input.hash, T0);
      assert.equal((await store().findToken(input.hash, T0 + MINUTE - 1))?.lastUsedAt, T0);
      assert.equal((await store().findToken(input.hash, T0 + MINUTE))?.lastUsedAt, T0 + MINUTE);
      assert.equal((await store().listTokens())[0]?.lastUsedAt, T0 + MINUTE);
    });

    it('refuses a second live token with the same name', async () => {
      await store().createToken(newToken(), T0);
      await assert.rejects(store().createToken(newToken(), T0), appError('conflict'));
    });

    it('revokes a token by id or by name, then reuses the name', async () => {
      const byId = await store().createToken(newToken({ name: 'a' }), T0);
      const byName = newToken({ name: 'b' });
      await store().createToken(byName, T0);
      assert.equal(await store().revokeToken(byId.id, T0 + 1), true);
      assert.equal(await store().revokeToken('b', T0 + 1), true);
      assert.equal(await store().revokeToken('b', T0 + 2), false, 'already revoked');
      assert.equal(await store().findToken(byName.hash, T0 + 3), undefined);
      assert.deepEqual(await store().listTokens(), []);
      const again = await store().createToken(newToken({ name: 'b' }), T0 + 4);
      assert.deepEqual(
        (await store().listTokens()).map((t) => t.id),
        [again.id],
      );
    });

    it('lists live tokens only', async () => {
      const kept = await store().createToken(
        newToken({ name: 'kept', role: 'admin', runner: undefined }),
        T0,
      );
      await store().createToken(newToken({ name: 'gone' }), T0 + 1);
      await store().revokeToken('gone', T0 + 2);
      assert.deepEqual(await store().listTokens(), [kept]);
      assert.equal(await store().revokeToken('never-existed', T0), false);
    });
  });

  describe('upkeep', () => {
    it('migrates again harmlessly, keeping data', async () => {
      const { task } = await store().createTask(newTask(), T0);
      await store().migrate();
      await store().migrate();
      assert.deepEqual(await store().getTask(task.id), task);
      assert.equal((await store().createTask(newTask(), T0)).created, true);
    });

    it('answers ping while open', async () => {
      await store().ping();
    });
  });
}
