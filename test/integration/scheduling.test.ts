// Order and timing over HTTP: priorities (higher first, FIFO within one), runAt (scheduled until
// due, and a waiting claim woken when it comes due), and per-key concurrency limits.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Task } from '../../src/protocol/tasks.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import { buildTestApp, type TestApp } from '../helpers/app.ts';

describe('priorities, runAt and concurrency keys', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  async function post<T>(url: string, payload: object): Promise<T> {
    const res = await t.app.inject({ method: 'POST', url, headers: t.admin, payload });
    assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
    return res.json<T>();
  }
  const read = async (id: string) =>
    (await t.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: t.admin })).json<Task>();
  /** Each test claims as its own runner, targeted by its own tasks, so tests never share work. */
  const claim = async (runner: string, waitMs = 0, max = 8) =>
    (await post<{ tasks: Claim[] }>('/v1/runner/claim', { runner, max, waitMs })).tasks;
  const submit = (runner: string, extra: object = {}) =>
    post<Task>('/v1/tasks', {
      kind: 'shell',
      spec: { command: 'true' },
      target: { runner },
      ...extra,
    });
  const hello = (name: string) =>
    post('/v1/runner/hello', {
      name,
      instanceId: name,
      capacity: 8,
      kinds: ['shell'],
      version: '1',
    });
  const finish = (c: Claim) =>
    post('/v1/runner/finish', {
      taskId: c.task.id,
      leaseToken: c.leaseToken,
      outcome: { status: 'succeeded' },
    });

  it('hands out higher priority first and FIFO within a priority', async () => {
    await hello('order');
    const created: Task[] = [];
    for (const priority of [0, 5, -3, 5, 0, 1000])
      created.push(await submit('order', { priority }));
    const ids = created.map((task) => task.id);
    const claimed = (await claim('order')).map((c) => c.task.id);
    assert.deepEqual(claimed, [ids[5], ids[1], ids[3], ids[0], ids[4], ids[2]]);
  });

  it('keeps a task scheduled until runAt and wakes a waiting claim when it comes due', async () => {
    const task = await submit('later', { runAt: Date.now() + 300 });
    assert.equal(task.state, 'scheduled');
    assert.deepEqual(await claim('later'), []);
    const started = Date.now();
    const [due] = await claim('later', 10_000, 1);
    assert.equal(due?.task.id, task.id);
    assert.ok(Date.now() - started < 9_000, 'woken when due, not at the end of the poll');
  });

  it('runs one task of a key at a time, says why the next waits, and wakes it on finish', async () => {
    await hello('deployer');
    const concurrency = { key: 'deploy' };
    const first = await submit('deployer', { concurrency });
    const second = await submit('deployer', { concurrency });
    assert.deepEqual(first.concurrency, { key: 'deploy', limit: 1 });
    const running = await claim('deployer');
    assert.deepEqual(
      running.map((c) => c.task.id),
      [first.id],
    );
    const waiting = await read(second.id);
    assert.equal(waiting.state, 'queued');
    assert.equal(waiting.waitReason, 'waiting for concurrency key deploy (1 running)');
    const next = claim('deployer', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await finish(running[0]!);
    assert.deepEqual(
      (await next).map((c) => c.task.id),
      [second.id],
      'the claim waiting for a slot was woken by the finish',
    );
  });

  it('allows up to the limit of a key at once', async () => {
    const concurrency = { key: 'build', limit: 2 };
    for (let i = 0; i < 4; i++) await submit('builder', { concurrency });
    assert.equal((await claim('builder')).length, 2);
    assert.deepEqual(await claim('builder'), []);
  });

  it('refuses a bad concurrency field, naming it, and stores nothing', async () => {
    const bad: [object, RegExp][] = [
      [{ key: 'deploy', limit: 0 }, /concurrency\.limit/],
      [{ key: 'deploy', limit: 1001 }, /concurrency\.limit/],
      [{ key: '' }, /concurrency\.key/],
      [{ limit: 2 }, /concurrency.*'key'/],
      [{ key: 'a', extra: 1 }, /concurrency\.extra/],
    ];
    const count = async () =>
      (await t.app.inject({ method: 'GET', url: '/v1/tasks?limit=500', headers: t.admin })).json<{
        tasks: Task[];
      }>().tasks.length;
    const stored = await count();
    for (const [concurrency, field] of bad) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: t.admin,
        payload: { kind: 'shell', spec: { command: 'true' }, concurrency },
      });
      assert.equal(res.statusCode, 400, JSON.stringify(concurrency));
      const { error } = res.json<{ error: { code: string; message: string } }>();
      assert.equal(error.code, 'bad_request');
      assert.match(error.message, field);
    }
    assert.equal(await count(), stored);
  });
});
