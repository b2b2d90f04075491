// The event log through the API: `GET /v1/events` read forward with a cursor, the legacy
// `GET /events` and `/events/stats` shapes, `POST /worker/event` recording, and event totals in stats.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, tokenHeaders, type TestApp } from '../helpers/app.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Task } from '../../src/protocol/tasks.ts';
import type { Event, EventList } from '../../src/protocol/events.ts';

type LegacyEvent = Record<string, unknown> & { id: number; type: string; taskId: string | null };
interface LegacyStats {
  count: number;
  total: number;
  byType: { type: string; count: number }[];
  byStatus: { taskStatus: string; count: number }[];
  retentionDays: number;
  maxEvents: number;
}

describe('event log routes', () => {
  let t: TestApp;
  let client: Record<string, string>;
  let runner: Record<string, string>;
  before(async () => {
    t = await buildTestApp();
    client = await tokenHeaders(t, 'client');
    runner = await tokenHeaders(t, 'runner', 'r1');
  });
  after(() => t.close());

  const post = (url: string, payload: object, headers = t.admin) =>
    t.app.inject({ method: 'POST', url, payload, headers });
  const get = (url: string, headers = t.admin) => t.app.inject({ method: 'GET', url, headers });
  const events = async (query: string, headers = t.admin) => {
    const res = await get(`/v1/events${query}`, headers);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<EventList>();
  };
  const legacyEvents = async (query = '') =>
    (await get(`/events${query}`)).json<{ events: LegacyEvent[] }>().events;

  /** A shell task run to the end by runner r1: created, started, completed (or failed). */
  async function runTask(exitCode = 0, payload: object = { command: 'true' }): Promise<string> {
    const created = await post('/v1/tasks', { kind: 'shell', spec: payload });
    const task = created.json<Task>();
    const claim = await post('/v1/runner/claim', { runner: 'r1', max: 1 }, runner);
    const [c] = claim.json<{ tasks: Claim[] }>().tasks;
    assert.equal(c?.task.id, task.id);
    const status = exitCode === 0 ? 'succeeded' : 'failed';
    const error = { kind: 'exit', message: `exit ${exitCode}`, exitCode, retryable: false };
    const outcome = exitCode === 0 ? { status, exitCode } : { status, exitCode, error };
    const finish = { taskId: task.id, leaseToken: c.leaseToken, outcome };
    assert.equal((await post('/v1/runner/finish', finish, runner)).statusCode, 200);
    return task.id;
  }

  it('lists a task’s events oldest first, with the kind and the state after each', async () => {
    const id = await runTask();
    const page = await events(`?taskId=${id}`, client);
    assert.deepEqual(
      page.events.map((e) => [e.type, e.taskKind, e.taskState]),
      [
        ['task.created', 'shell', 'queued'],
        ['task.started', 'shell', 'running'],
        ['task.completed', 'shell', 'succeeded'],
      ],
    );
    assert.equal(page.events[1]?.runner, 'r1');
    assert.equal(page.nextCursor, page.events.at(-1)?.id);
    assert.ok(page.events.every((e: Event & { task?: unknown }) => e.task === undefined));
  });

  it('reads on from the cursor without repeats or gaps, and filters by type', async () => {
    const first = await events('?limit=2');
    assert.equal(first.events.length, 2);
    const rest = await events(`?after=${first.nextCursor}&limit=1000`);
    const all = await events('?limit=1000');
    assert.deepEqual(
      [...first.events, ...rest.events].map((e) => e.id),
      all.events.map((e) => e.id),
    );
    const ids = all.events.map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
    const done = await events(`?after=${all.nextCursor}`);
    assert.deepEqual(done, { events: [] });
    const created = await events('?type=task.created&limit=1000');
    assert.ok(created.events.length > 0);
    assert.ok(created.events.every((e) => e.type === 'task.created'));
  });

  it('refuses a bad query with 400 naming the field', async () => {
    for (const [query, field] of [
      ['?limit=0', /limit/],
      ['?limit=5000', /limit/],
      ['?after=-1', /after/],
      ['?type=has%20space', /type/],
      ['?colour=blue', /colour/],
    ] as const) {
      const res = await get(`/v1/events${query}`);
      assert.equal(res.statusCode, 400, query);
      assert.match(res.json<{ error: { message: string } }>().error.message, field);
    }
  });

  it('GET /events lists newest first in the legacy shape, with lenient limits', async () => {
    const id = await runTask(2);
    const list = await legacyEvents(`?taskId=${id}`);
    assert.deepEqual(
      list.map((e) => [e.type, e.taskStatus]),
      [
        ['task.failed', 'failed'],
        ['task.started', 'running'],
        ['task.created', 'pending'],
      ],
    );
    const [failed] = list;
    assert.deepEqual(Object.keys(failed!).sort(), [
      'createdAt',
      'details',
      'dispatchMode',
      'entrypoint',
      'id',
      'origin',
      'responseMode',
      'sessionId',
      'taskId',
      'taskStatus',
      'taskType',
      'type',
    ]);
    assert.equal(failed!.taskType, 'command');
    assert.equal(failed!.taskId, id);
    assert.equal(typeof failed!.createdAt, 'number');
    assert.equal((await legacyEvents('?limit=1')).length, 1);
    assert.equal((await legacyEvents('?limit=0')).length, 1);
    assert.equal((await legacyEvents('?limit=abc')).length, Math.min(50, await countEvents()));
    const onlyStarted = await legacyEvents('?type=task.started&limit=999999');
    assert.ok(onlyStarted.length >= 2 && onlyStarted.every((e) => e.type === 'task.started'));
  });

  async function countEvents(): Promise<number> {
    return (await events('?limit=1000')).events.length;
  }

  it('POST /worker/event stores what an old runner reports, with its dispatch fields', async () => {
    const id = await runTask();
    const report = {
      taskId: id,
      type: 'callback.sent',
      details: { channel: '123', attempts: 1, status: 200 },
      metadata: {
        sessionId: 's-1',
        origin: 'discord',
        dispatchMode: 'agent-tool',
        entrypoint: 'cc',
      },
    };
    const res = await post('/worker/event', report, runner);
    assert.equal(res.statusCode, 200);
    const { success, event } = res.json<{ success: boolean; event: LegacyEvent }>();
    assert.equal(success, true);
    const [listed] = await legacyEvents(`?taskId=${id}&type=callback.sent`);
    assert.deepEqual(listed, event);
    assert.deepEqual(
      [event.taskType, event.taskStatus, event.sessionId, event.origin, event.dispatchMode],
      ['command', 'completed', 's-1', 'discord', 'agent-tool'],
    );
    assert.deepEqual([event.responseMode, event.entrypoint], [null, 'cc']);
    assert.deepEqual(event.details, report.details);
    const [v1] = (await events(`?taskId=${id}&type=callback.sent`)).events;
    assert.equal(v1?.runner, 'r1');
    assert.deepEqual(v1?.data, { ...report.details, metadata: report.metadata });
  });

  it('POST /worker/event accepts an event about no task, and refuses oversized data', async () => {
    const res = await post('/worker/event', { type: 'runner.note', details: { n: 1 } }, runner);
    const { event } = res.json<{ event: LegacyEvent }>();
    assert.deepEqual([event.taskId, event.taskType, event.taskStatus], [null, null, null]);
    const huge = { type: 'runner.note', details: { blob: 'x'.repeat(20_000) } };
    const refused = await post('/worker/event', huge, runner);
    assert.equal(refused.statusCode, 413);
    assert.equal(typeof refused.json<{ error: string }>().error, 'string');
  });

  it('GET /events/stats counts by type and by legacy status, task-less events as unknown', async () => {
    const res = await get('/events/stats', client);
    assert.equal(res.statusCode, 200);
    const { stats } = res.json<{ stats: LegacyStats }>();
    const total = await countEvents();
    assert.equal(stats.total, total);
    assert.equal(stats.count, total);
    const byType = Object.fromEntries(stats.byType.map((r) => [r.type, r.count]));
    assert.equal(byType['task.failed'], 1);
    assert.equal(byType['callback.sent'], 1);
    const byStatus = Object.fromEntries(stats.byStatus.map((r) => [r.taskStatus, r.count]));
    assert.equal(byStatus.unknown, 1);
    assert.deepEqual(Object.keys(byStatus).sort(), [
      'completed',
      'failed',
      'pending',
      'running',
      'unknown',
    ]);
    assert.equal(
      stats.byStatus.reduce((n, r) => n + r.count, 0),
      total,
    );
    assert.deepEqual([stats.retentionDays, stats.maxEvents], [14, 100_000]);
  });

  it('GET /v1/stats includes the event total', async () => {
    const res = await get('/v1/stats');
    assert.equal(res.statusCode, 200);
    const stats = res.json<{ events: { total: number; oldestAt: number; newestAt: number } }>();
    assert.equal(stats.events.total, await countEvents());
    assert.ok(stats.events.oldestAt <= stats.events.newestAt);
  });
});
