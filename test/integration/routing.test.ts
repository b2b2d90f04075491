// Routing over HTTP: the runner registry (`GET /v1/runners`), tasks that require labels or a
// runner by name, and the reason a task read gives while no online runner can take it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Task } from '../../src/protocol/tasks.ts';
import type { RunnerInfo } from '../../src/protocol/auth.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import { buildTestApp, type TestApp } from '../helpers/app.ts';

/** A clock the test moves by hand, to age runners past the online window. */
const clock = { at: 1_700_000_000_000, now: () => clock.at };
const ONLINE_WITHIN_MS = 60_000 + 10_000; // the longest claim poll (longer than the lease) + a heartbeat

describe('routing by labels and the runner registry', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({}, clock);
  });
  after(() => t.close());

  async function post<T>(url: string, payload: object): Promise<T> {
    const res = await t.app.inject({ method: 'POST', url, headers: t.admin, payload });
    assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
    return res.json<T>();
  }
  async function get<T>(url: string): Promise<T> {
    const res = await t.app.inject({ method: 'GET', url, headers: t.admin });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<T>();
  }
  const hello = (name: string, labels: string[], kinds = ['shell']) =>
    post('/v1/runner/hello', {
      name,
      instanceId: `${name}-1`,
      labels,
      capacity: 2,
      kinds,
      version: '1',
    });
  const claim = (runner: string, waitMs = 0) =>
    post<{ tasks: Claim[] }>('/v1/runner/claim', { runner, max: 4, waitMs });
  const submit = (extra: object) =>
    post<Task>('/v1/tasks', { kind: 'shell', spec: { command: 'true' }, ...extra });
  const read = (id: string) => get<Task>(`/v1/tasks/${id}`);
  const runners = async () =>
    new Map((await get<{ runners: RunnerInfo[] }>('/v1/runners')).runners.map((r) => [r.name, r]));

  it('says a task waits for labels no online runner has, until one with them takes it', async () => {
    await hello('cpu', ['linux']);
    const task = await submit({ target: { labels: ['gpu', 'linux'] } });
    assert.equal((await read(task.id)).waitReason, 'waiting for a runner with labels gpu, linux');
    assert.deepEqual((await claim('cpu')).tasks, []);
    await hello('gpu', ['linux', 'gpu']);
    assert.equal((await read(task.id)).waitReason, undefined, 'a matching runner is online');
    const [taken] = (await claim('gpu')).tasks;
    assert.equal(taken?.task.id, task.id);
    const running = await read(task.id);
    assert.equal(running.state, 'running');
    assert.equal(running.waitReason, undefined);
    const registry = await runners();
    assert.equal(registry.get('gpu')?.running, 1);
    assert.deepEqual(registry.get('gpu')?.labels, ['linux', 'gpu']);
    await post('/v1/runner/finish', {
      taskId: task.id,
      leaseToken: taken.leaseToken,
      outcome: { status: 'succeeded' },
    });
  });

  it('names a target runner that was never seen, then one that went offline', async () => {
    const task = await submit({ target: { runner: 'mac' } });
    assert.equal((await read(task.id)).waitReason, 'waiting for runner "mac" (never seen)');
    await hello('mac', []);
    assert.equal((await read(task.id)).waitReason, undefined);
    clock.at += ONLINE_WITHIN_MS + 1;
    assert.equal((await read(task.id)).waitReason, 'waiting for runner "mac" (offline)');
    assert.equal((await runners()).get('mac')?.online, false);
    const [taken] = (await claim('mac')).tasks;
    assert.equal(taken?.task.id, task.id, 'a runner that comes back takes its task');
    assert.equal((await runners()).get('mac')?.online, true, 'a claim counts as being seen');
  });

  it('says a task waits for a runner that runs its kind', async () => {
    clock.at += ONLINE_WITHIN_MS + 1;
    await hello('reader', ['files'], ['file.read']);
    const task = await post<Task>('/v1/tasks', {
      kind: 'file.list',
      spec: { path: '/tmp' },
      target: { labels: ['files'] },
    });
    const { waitReason } = await read(task.id);
    assert.equal(waitReason, 'waiting for a runner with labels files that runs kind file.list');
    await post(`/v1/tasks/${task.id}/cancel`, {});
  });

  it('keeps a runner online while it heartbeats, and lists what it runs', async () => {
    clock.at += ONLINE_WITHIN_MS + 1;
    await hello('busy', ['busy']);
    const task = await submit({ target: { labels: ['busy'] } });
    const [taken] = (await claim('busy')).tasks;
    assert.ok(taken);
    const leases = [{ taskId: task.id, leaseToken: taken.leaseToken }];
    for (let i = 0; i < 3; i++) {
      clock.at += 20_000;
      await post('/v1/runner/heartbeat', { runner: 'busy', leases });
    }
    const busy = (await runners()).get('busy');
    assert.equal(busy?.online, true);
    assert.equal(busy?.lastSeenAt, clock.at);
    assert.equal(busy?.running, 1);
    assert.equal(busy?.capacity, 2);
  });
});
