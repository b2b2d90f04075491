// The v1 client and runner routes through inject(): shapes, validation, fencing and long polls.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, tokenHeaders, type TestApp } from '../helpers/app.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Task } from '../../src/protocol/tasks.ts';

const hello = {
  name: 'r1',
  instanceId: 'i1',
  capacity: 4,
  kinds: ['shell', 'file.read'],
  version: 'test',
};

describe('v1 API', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp()));
  after(() => t.close());

  const post = (url: string, payload: unknown, headers = t.admin) =>
    t.app.inject({ method: 'POST', url, payload: payload as object, headers });
  const get = (url: string, headers = t.admin) => t.app.inject({ method: 'GET', url, headers });
  const create = async (spec: object = { command: 'true' }) =>
    (await post('/v1/tasks', { kind: 'shell', spec })).json<Task>();
  const claim = async (max = 1, waitMs = 0) =>
    (await post('/v1/runner/claim', { runner: 'r1', max, waitMs })).json<{ tasks: Claim[] }>()
      .tasks;

  it('creates, gets and lists a task', async () => {
    const res = await post('/v1/tasks', {
      kind: 'shell',
      spec: { command: 'echo hi' },
      timeoutMs: 5000,
      labels: ['x'],
    });
    assert.equal(res.statusCode, 201);
    const task = res.json<Task>();
    assert.equal(task.state, 'queued');
    assert.equal(task.timeoutMs, 5000);
    assert.deepEqual(task.spec, { command: 'echo hi' });
    assert.equal((await get(`/v1/tasks/${task.id}`)).json<Task>().id, task.id);
    const list = (await get('/v1/tasks?limit=500')).json<{ tasks: Task[] }>();
    assert.ok(list.tasks.some((x) => x.id === task.id));
  });

  it('returns the original task for a repeated Idempotency-Key and 409 for a different body', async () => {
    const headers = { ...t.admin, 'idempotency-key': 'key-1' };
    const first = await post('/v1/tasks', { kind: 'shell', spec: { command: 'a' } }, headers);
    const again = await post('/v1/tasks', { kind: 'shell', spec: { command: 'a' } }, headers);
    assert.equal(first.statusCode, 201);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<Task>().id, first.json<Task>().id);
    const other = await post('/v1/tasks', { kind: 'shell', spec: { command: 'b' } }, headers);
    assert.equal(other.statusCode, 409);
    assert.equal(other.json<{ error: { code: string } }>().error.code, 'conflict');
  });

  it('rejects bad bodies with 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ kind: 'nope', spec: {} }, /kind/],
      [{ kind: 'shell', spec: {} }, /spec.*command|command/],
      [{ kind: 'shell', spec: { command: 'x' }, timeoutMs: 5 }, /timeoutMs/],
      [{ kind: 'shell', spec: { command: 'x' }, bogus: 1 }, /bogus/],
      [{ kind: 'file.read', spec: { path: '' } }, /spec\.path/],
      [{ kind: 'shell', spec: { command: 'x' }, timeoutMs: '5000' }, /timeoutMs/],
    ];
    for (const [payload, field] of cases) {
      const res = await post('/v1/tasks', payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      const { error } = res.json<{ error: { code: string; message: string } }>();
      assert.equal(error.code, 'bad_request');
      assert.match(error.message, field);
    }
  });

  it('answers malformed JSON and huge bodies with clear errors', async () => {
    const bad = await t.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { ...t.admin, 'content-type': 'application/json' },
      payload: '{"kind":',
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json<{ error: { message: string } }>().error.message, 'Invalid JSON body');
    const huge = await post('/v1/tasks', {
      kind: 'shell',
      spec: { command: 'x'.repeat(6 * 1024 * 1024) },
    });
    assert.equal(huge.statusCode, 413);
    assert.equal(huge.json<{ error: { code: string } }>().error.code, 'payload_too_large');
  });

  it('cancels a queued task at once', async () => {
    const task = await create();
    const res = await post(`/v1/tasks/${task.id}/cancel`, {});
    assert.equal(res.json<Task>().state, 'cancelled');
    assert.equal((await post('/v1/tasks/nope/cancel', {})).statusCode, 404);
  });

  it('leases claimed tasks and fences finish by lease token', async () => {
    await claim(100);
    assert.equal(
      (await post('/v1/runner/hello', hello)).json<{ heartbeatMs: number }>().heartbeatMs,
      10_000,
    );
    const task = await create();
    const [c] = await claim();
    assert.ok(c);
    assert.equal(c.task.id, task.id);
    assert.equal(c.task.state, 'running');
    assert.equal(c.attempt, 1);
    const beat = await post('/v1/runner/heartbeat', {
      runner: 'r1',
      leases: [{ taskId: task.id, leaseToken: c.leaseToken }],
    });
    assert.deepEqual(beat.json<{ lost: string[] }>().lost, []);
    const outcome = { status: 'succeeded', exitCode: 0, stdout: 'ok' };
    const stale = await post('/v1/runner/finish', {
      taskId: task.id,
      leaseToken: 'not-the-token',
      outcome,
    });
    assert.equal(stale.statusCode, 409);
    assert.equal(stale.json<{ error: { code: string } }>().error.code, 'lease_lost');
    const done = await post('/v1/runner/finish', {
      taskId: task.id,
      leaseToken: c.leaseToken,
      outcome,
    });
    assert.equal(done.json<{ task: Task }>().task.state, 'succeeded');
    const other = await post('/v1/runner/finish', {
      taskId: task.id,
      leaseToken: c.leaseToken,
      outcome: { ...outcome, stdout: 'another' },
    });
    assert.equal(other.statusCode, 409, 'the ended lease takes no other outcome');
    const again = await post('/v1/runner/finish', {
      taskId: task.id,
      leaseToken: c.leaseToken,
      outcome,
    });
    assert.equal(again.statusCode, 200, 'a repeat of the stored finish is answered as stored');
    assert.equal(again.json<{ task: Task }>().task.state, 'succeeded');
  });

  it('wakes a waiting claim when a task is created', async () => {
    await claim(100);
    const pending = claim(1, 20_000);
    const task = await create();
    const [c] = await pending;
    assert.equal(c?.task.id, task.id);
  });

  it('wakes a waiting get when the task ends, and reports cancel on heartbeat', async () => {
    await claim(100);
    const task = await create();
    const [c] = await claim();
    assert.ok(c);
    const waiting = get(`/v1/tasks/${task.id}?wait=20000`);
    await post(`/v1/tasks/${task.id}/cancel`, {});
    const beat = await post('/v1/runner/heartbeat', {
      runner: 'r1',
      leases: [{ taskId: task.id, leaseToken: c.leaseToken }],
    });
    assert.deepEqual(beat.json<{ cancel: string[] }>().cancel, [task.id]);
    const outcome = {
      status: 'cancelled',
      error: { kind: 'cancelled', message: 'cancelled', retryable: false },
    };
    await post('/v1/runner/finish', { taskId: task.id, leaseToken: c.leaseToken, outcome });
    const res = await waiting;
    assert.equal(res.json<Task>().state, 'cancelled');
  });

  it('serves health without auth or internals, readiness, and the OpenAPI document', async () => {
    const health = await t.app.inject({ method: 'GET', url: '/health' });
    assert.deepEqual(health.json(), { status: 'ok' });
    assert.equal((await t.app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, unknown>;
    }>();
    assert.ok(doc.paths['/v1/tasks']);
    assert.ok(doc.paths['/v1/runner/claim']);
  });

  it('lists runners and stats for admins', async () => {
    await post('/v1/runner/hello', hello);
    const runners = (await get('/v1/runners')).json<{
      runners: { name: string; online: boolean }[];
    }>().runners;
    assert.ok(runners.some((r) => r.name === 'r1' && r.online));
    const stats = (await get('/v1/stats')).json<{ tasks: Record<string, number> }>();
    assert.equal(typeof stats.tasks.queued, 'number');
  });

  it('binds a runner token to its runner name', async () => {
    const headers = await tokenHeaders(t, 'runner', 'r1');
    assert.equal(
      (await post('/v1/runner/claim', { runner: 'r1', max: 1 }, headers)).statusCode,
      200,
    );
    const other = await post('/v1/runner/claim', { runner: 'r2', max: 1 }, headers);
    assert.equal(other.statusCode, 403);
  });
});
