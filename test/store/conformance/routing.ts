// Conformance: routing by required labels (matched against the runner's registry row), per-key
// concurrency limits at claim time, and what the registry shows of each runner's work.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../../../src/store/types.ts';
import {
  addTasks,
  claimOne,
  claimRequest,
  FAILED,
  LEASE_MS,
  newTask,
  runnerHello,
  SUCCEEDED,
  T0,
} from './fixtures.ts';

const MINUTE = 60_000;

async function claimedIds(store: Store, runner: string, max = 10): Promise<string[]> {
  const claims = await store.claimTasks(claimRequest({ runner, max }));
  return claims.map((c) => c.task.id);
}

export function describeRouting(store: () => Store): void {
  describe('routing by labels', () => {
    it('gives a task that requires labels only to a runner whose hello had all of them', async () => {
      await store().touchRunner(runnerHello({ name: 'cpu', labels: ['linux'] }), T0);
      await store().touchRunner(runnerHello({ name: 'gpu', labels: ['linux', 'gpu', 'cuda'] }), T0);
      const [needsGpu] = await addTasks(store(), 1, { target: { labels: ['gpu', 'linux'] } });
      assert.deepEqual(await claimedIds(store(), 'cpu'), []);
      assert.deepEqual(await claimedIds(store(), 'gpu'), [needsGpu]);
    });

    it('gives a task that requires labels to no runner without a registry row', async () => {
      await addTasks(store(), 1, { target: { labels: ['gpu'] } });
      assert.deepEqual(await claimedIds(store(), 'never-said-hello'), []);
    });

    it('gives tasks without label requirements to any runner, labelled or not', async () => {
      await store().touchRunner(runnerHello({ name: 'gpu', labels: ['gpu'] }), T0);
      const [a, b] = await addTasks(store(), 2, { target: { labels: [] } });
      assert.deepEqual(await claimedIds(store(), 'gpu', 1), [a]);
      assert.deepEqual(await claimedIds(store(), 'unregistered', 1), [b]);
    });

    it('skips a task it may not take and claims the ones behind it', async () => {
      const [gpuFirst] = await addTasks(store(), 1, { priority: 5, target: { labels: ['gpu'] } });
      const plain = await addTasks(store(), 2);
      assert.deepEqual(await claimedIds(store(), 'r1'), plain);
      await store().touchRunner(runnerHello({ name: 'r1', labels: ['gpu'] }), T0);
      assert.deepEqual(await claimedIds(store(), 'r1'), [gpuFirst]);
    });

    it('uses the labels of the latest hello', async () => {
      await store().touchRunner(runnerHello({ name: 'r1', labels: ['gpu'] }), T0);
      await store().touchRunner(runnerHello({ name: 'r1', labels: [] }), T0 + 1);
      await addTasks(store(), 1, { target: { labels: ['gpu'] } });
      assert.deepEqual(await claimedIds(store(), 'r1'), []);
    });

    it('combines a target runner with required labels', async () => {
      await store().touchRunner(runnerHello({ name: 'mac', labels: ['arm'] }), T0);
      await store().touchRunner(runnerHello({ name: 'pi', labels: ['arm'] }), T0);
      const [task] = await addTasks(store(), 1, { target: { runner: 'mac', labels: ['arm'] } });
      assert.deepEqual(await claimedIds(store(), 'pi'), []);
      assert.deepEqual(await claimedIds(store(), 'mac'), [task]);
    });

    it('gives legacy pollers only tasks that require no labels', async () => {
      await store().touchRunner(runnerHello({ name: 'r1', labels: ['gpu'] }), T0);
      await addTasks(store(), 1, { target: { labels: ['gpu'] } });
      const [plain] = await addTasks(store(), 1);
      const claims = await store().claimTasks(claimRequest({ legacy: true }));
      assert.deepEqual(
        claims.map((c) => c.task.id),
        [plain],
      );
    });
  });

  describe('concurrency keys', () => {
    const deploy = { concurrency: { key: 'deploy', limit: 1 } };

    it('runs at most limit tasks of a key at once, even within one batch', async () => {
      const keyed = await addTasks(store(), 3, { concurrency: { key: 'deploy', limit: 2 } });
      const [plain] = await addTasks(store(), 1);
      const claims = await store().claimTasks(claimRequest({ max: 10 }));
      const ids = claims.map((c) => c.task.id);
      assert.deepEqual(ids.filter((id) => keyed.includes(id)).sort(), keyed.slice(0, 2).sort());
      assert.ok(ids.includes(plain!));
      assert.deepEqual(await store().claimTasks(claimRequest({ runner: 'r2' })), []);
      assert.equal(await store().countRunningWithKey('deploy'), 2);
    });

    it('shows the key and its limit on the task', async () => {
      const { task } = await store().createTask(newTask(deploy), T0);
      assert.deepEqual(task.concurrency, { key: 'deploy', limit: 1 });
      assert.deepEqual((await store().getTask(task.id))?.concurrency, { key: 'deploy', limit: 1 });
    });

    it('frees the slot when the running task finishes', async () => {
      const [first, second] = await addTasks(store(), 2, deploy);
      const claim = await claimOne(store());
      assert.equal(claim.task.id, first);
      assert.deepEqual(await claimedIds(store(), 'r2'), []);
      await store().finishAttempt({ ...lease(claim), outcome: SUCCEEDED, now: T0 + 1 });
      assert.deepEqual(await claimedIds(store(), 'r2'), [second]);
    });

    it('frees the slot when the running task is retried or its lease expires', async () => {
      const [first, second, third] = await addTasks(store(), 3, { ...deploy, maxAttempts: 3 });
      const claim = await claimOne(store());
      const retry = { baseMs: 1_000, maxMs: 1_000, jitter: 1 };
      await store().finishAttempt({ ...lease(claim), outcome: FAILED, now: T0 + 1, retry });
      assert.equal((await claimOne(store(), { runner: 'r2', now: T0 + 2 })).task.id, second);
      await store().requeueExpired(T0 + 2 + LEASE_MS + 1, 10);
      const next = await claimOne(store(), { runner: 'r3', now: T0 + LEASE_MS + 10 });
      assert.ok([first, second, third].includes(next.task.id));
      assert.equal(await store().countRunningWithKey('deploy'), 1);
    });

    it('keeps different keys independent', async () => {
      await addTasks(store(), 2, deploy);
      await addTasks(store(), 2, { concurrency: { key: 'backup', limit: 1 } });
      assert.equal((await store().claimTasks(claimRequest())).length, 2);
    });
  });

  describe('runner activity', () => {
    it('counts the tasks each runner is running', async () => {
      await store().touchRunner(runnerHello({ name: 'r1' }), T0);
      await store().touchRunner(runnerHello({ name: 'r2' }), T0);
      await addTasks(store(), 3);
      await store().claimTasks(claimRequest({ runner: 'r1', max: 2 }));
      const runners = await store().listRunners(T0, MINUTE);
      assert.deepEqual(
        runners.map((r) => [r.name, r.running]),
        [
          ['r1', 2],
          ['r2', 0],
        ],
      );
    });

    it('moves last seen forward on activity, never back, and ignores unknown names', async () => {
      await store().touchRunner(runnerHello({ name: 'r1' }), T0);
      await store().markRunnerSeen('r1', T0 + 2 * MINUTE);
      await store().markRunnerSeen('r1', T0 + MINUTE);
      await store().markRunnerSeen('ghost', T0 + MINUTE);
      const runners = await store().listRunners(T0 + 2 * MINUTE + 1, MINUTE);
      assert.deepEqual(
        runners.map((r) => [r.name, r.lastSeenAt, r.online, r.firstSeenAt]),
        [['r1', T0 + 2 * MINUTE, true, T0]],
      );
    });
  });
}

function lease(claim: { task: { id: string }; leaseToken: string }) {
  return { taskId: claim.task.id, leaseToken: claim.leaseToken };
}
