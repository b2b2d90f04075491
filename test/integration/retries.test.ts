// Retries and recovery through the v1 API: backoff for retryable failures, retryOnFailure, the
// attempt history on a task's read, and a restarted runner giving up its old leases at hello.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestApp, testAppOptions, type TestApp } from '../helpers/app.ts';
import { createApp } from '../../src/server/create-app.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Outcome, Task } from '../../src/protocol/tasks.ts';

const hello = { name: 'r1', capacity: 4, kinds: ['shell'], version: 'test' };
const EXIT_1: Outcome = {
  status: 'failed',
  exitCode: 1,
  error: { kind: 'exit', message: 'exited with code 1', exitCode: 1, retryable: false },
};
const BUSY: Outcome = {
  status: 'failed',
  error: { kind: 'spawn', message: 'spawn EAGAIN', retryable: true },
};

describe('retries and runner restarts', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp()));
  after(() => t.close());

  const get = async (id: string) =>
    (await t.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: t.admin })).json<Task>();
  const create = async (extra: object = {}) =>
    (await t.post('/v1/tasks', { kind: 'shell', spec: { command: 'x' }, ...extra })).json<Task>();
  /** Claims and acknowledges, as a runner does before it starts anything. */
  const claim = async (instanceId: string) => {
    const claimed = await t.post('/v1/runner/claim', { runner: 'r1', instanceId, max: 4 });
    const { tasks } = claimed.json<{ tasks: Claim[] }>();
    const leases = tasks.map((c) => ({ taskId: c.task.id, leaseToken: c.leaseToken }));
    await t.post('/v1/runner/heartbeat', { runner: 'r1', leases });
    return tasks;
  };
  const finish = (c: Claim, outcome: Outcome) =>
    t.post('/v1/runner/finish', { taskId: c.task.id, leaseToken: c.leaseToken, outcome });

  it('retries a retryable failure after a backoff and records both attempts', async () => {
    const task = await create({ maxAttempts: 2 });
    const [first] = await claim('a');
    assert.equal(first?.task.id, task.id);
    const res = await finish(first, BUSY);
    assert.equal(res.statusCode, 200);
    const retrying = res.json<{ task: Task }>().task;
    assert.equal(retrying.state, 'queued');
    assert.ok(retrying.runAt > retrying.updatedAt, 'runs again only after a backoff');
    assert.ok(retrying.runAt <= retrying.updatedAt + 1_000, 'first backoff is at most 1 s');
    const read = await get(task.id);
    assert.equal(read.attempts?.length, 1);
    assert.equal(read.attempts?.[0]?.status, 'failed');
    assert.equal(read.attempts?.[0]?.instanceId, 'a');
  });

  it('does not retry a non-zero exit unless the task asked to', async () => {
    const plain = await create({ maxAttempts: 3 });
    const eager = await create({ maxAttempts: 3, retryOnFailure: true });
    const claims = await claim('a');
    const byId = new Map(claims.map((c) => [c.task.id, c]));
    const ended = (await finish(byId.get(plain.id)!, EXIT_1)).json<{ task: Task }>().task;
    const again = (await finish(byId.get(eager.id)!, EXIT_1)).json<{ task: Task }>().task;
    assert.equal(ended.state, 'failed');
    assert.equal(again.state, 'queued');
  });

  it('a runner saying hello with a new instance id frees its old leases at once', async () => {
    await t.post('/v1/runner/hello', { ...hello, instanceId: 'old' });
    const retried = await create({ maxAttempts: 2 });
    const single = await create({ maxAttempts: 1 });
    const claims = await claim('old');
    assert.ok(claims.some((c) => c.task.id === retried.id));
    assert.equal(
      (await t.post('/v1/runner/hello', { ...hello, instanceId: 'new' })).statusCode,
      200,
    );
    assert.equal((await get(retried.id)).state, 'queued');
    const lost = await get(single.id);
    assert.equal(lost.state, 'lost');
    assert.match(lost.outcome?.error?.message ?? '', /restarted/);
    const late = await finish(
      claims.find((c) => c.task.id === retried.id)!,
      EXIT_1,
    );
    assert.equal(late.statusCode, 409, "the old instance's late result is refused");
    assert.equal(late.json<{ error: { code: string } }>().error.code, 'lease_lost');
  });
});

describe('retry backoff settings', () => {
  it('waits retryBaseMs (times a jitter in [0.5, 1]) before the first retry', async () => {
    const t = await buildTestApp({ retryBaseMs: 60_000, retryMaxMs: 600_000 });
    try {
      await t.post('/v1/tasks', { kind: 'shell', spec: { command: 'x' }, maxAttempts: 2 });
      const claimed = await t.post('/v1/runner/claim', { runner: 'r1', max: 1 });
      const [c] = claimed.json<{ tasks: Claim[] }>().tasks;
      const body = { taskId: c!.task.id, leaseToken: c!.leaseToken, outcome: BUSY };
      const { task } = (await t.post('/v1/runner/finish', body)).json<{ task: Task }>();
      const delay = task.runAt - task.updatedAt;
      assert.ok(delay >= 30_000 && delay <= 60_000, `backoff ${delay} ms`);
    } finally {
      await t.close();
    }
  });
});

describe('a server restarting after an outage longer than a lease', () => {
  it('gives running work one lease period to report instead of running it twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-restart-'));
    const path = join(dir, 'outpost.db');
    let now = Date.now();
    const clock = { now: () => now };
    const options = { ...testAppOptions(), leaseMs: 5_000, heartbeatMs: 1_000 };
    const headers = { authorization: `Bearer ${options.token}` };
    const start = async () => {
      const store = openSqliteStore(path);
      const app = await createApp({ store, options, clock });
      await app.ready();
      return { app, store };
    };
    try {
      const first = await start();
      const created = await first.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers,
        payload: { kind: 'shell', spec: { command: 'x' }, maxAttempts: 3 },
      });
      const claimed = await first.app.inject({
        method: 'POST',
        url: '/v1/runner/claim',
        headers,
        payload: { runner: 'r1', instanceId: 'a', max: 1 },
      });
      const [claim] = claimed.json<{ tasks: Claim[] }>().tasks;
      assert.equal(claim?.task.id, created.json<Task>().id);
      await first.app.close();
      await first.store.close();
      now += 60_000; // down for twelve lease periods
      const second = await start();
      assert.equal(await second.app.leases.requeueExpired(), 0, 'the lease was extended on start');
      const beat = await second.app.inject({
        method: 'POST',
        url: '/v1/runner/heartbeat',
        headers,
        payload: {
          runner: 'r1',
          leases: [{ taskId: claim.task.id, leaseToken: claim.leaseToken }],
        },
      });
      assert.deepEqual(beat.json<{ lost: string[] }>().lost, []);
      await second.app.close();
      await second.store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
