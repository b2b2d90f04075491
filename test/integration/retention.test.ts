// Retention through the app, with an injected clock: finished tasks and events go when their time
// is up or a cap is passed, live tasks never do; maintenance on demand; the loop's batching.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildTestApp } from '../helpers/app.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Task } from '../../src/protocol/tasks.ts';
import type { EventList } from '../../src/protocol/events.ts';
import type { Store } from '../../src/store/types.ts';
import type { AppOptions } from '../../src/server/create-app.ts';
import { pruneAll, retentionRules, startRetention } from '../../src/server/queue/retention.ts';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Report {
  pruned: { tasks: number; events: number; sessions: number; batches: number };
  vacuumed: boolean;
  before: { tasks: number; finishedTasks: number; events: number };
  after: { tasks: number; finishedTasks: number; events: number };
}

/** An app whose clock the test moves, with helpers to put tasks in each state. */
async function clockedApp(options: Partial<AppOptions> = {}) {
  const clock = { at: T0, now: () => clock.at };
  // The reaper stays out of the way (its lease expiry would end a "running" task as lost) unless asked.
  const t = await buildTestApp({ reapIntervalMs: 60_000, ...options }, clock);
  const post = (url: string, payload: object) =>
    t.app.inject({ method: 'POST', url, payload, headers: t.admin });
  const get = (url: string) => t.app.inject({ method: 'GET', url, headers: t.admin });
  const create = async () =>
    (await post('/v1/tasks', { kind: 'shell', spec: { command: 'true' } })).json<Task>().id;
  const claim = async (max = 256) =>
    (await post('/v1/runner/claim', { runner: 'r1', max })).json<{ tasks: Claim[] }>().tasks;
  const finish = (c: Claim) =>
    post('/v1/runner/finish', {
      taskId: c.task.id,
      leaseToken: c.leaseToken,
      outcome: { status: 'succeeded', exitCode: 0 },
    });
  /** `n` tasks run to the end now; their ids. */
  const finished = async (n: number) => {
    for (let i = 0; i < n; i++) await create();
    const claims = await claim(n);
    for (const c of claims) await finish(c);
    return claims.map((c) => c.task.id);
  };
  const exists = async (id: string) => (await get(`/v1/tasks/${id}`)).statusCode === 200;
  const stateOf = async (id: string) => (await get(`/v1/tasks/${id}`)).json<Task>().state;
  const maintain = async (payload: object = {}) => {
    const res = await post('/v1/maintenance', payload);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Report>();
  };
  return { t, clock, post, get, create, claim, finished, exists, stateOf, maintain };
}

describe('retention', () => {
  let app: Awaited<ReturnType<typeof clockedApp>>;
  before(async () => {
    app = await clockedApp({ taskRetentionMs: 7 * DAY, resultRetentionMs: DAY });
  });
  after(() => app.t.close());

  it('deletes finished tasks after taskRetentionMs and never a queued or running one', async () => {
    const [done] = await app.finished(1);
    const running = await app.create();
    assert.equal((await app.claim(1))[0]?.task.id, running);
    const queued = await app.create();
    app.clock.at += 7 * DAY - 1;
    assert.equal((await app.maintain()).pruned.tasks, 0);
    app.clock.at += 2;
    const report = await app.maintain();
    assert.equal(report.pruned.tasks, 1);
    assert.deepEqual(
      [report.before.tasks - report.after.tasks, report.after.finishedTasks],
      [1, 0],
    );
    assert.equal(await app.exists(done!), false);
    assert.equal(await app.exists(running), true);
    assert.equal(await app.exists(queued), true);
    app.clock.at += 365 * DAY;
    await app.maintain();
    assert.equal(await app.stateOf(running), 'running', 'a running task outlives every rule');
    assert.equal(await app.stateOf(queued), 'queued', 'a queued task outlives every rule');
  });

  it('deletes a read result resultRetentionMs after its first read', async () => {
    const [read, unread] = await app.finished(2);
    assert.equal((await app.get(`/tasks/${read}`)).statusCode, 200); // the legacy read marks it
    app.clock.at += DAY + 1;
    await app.maintain();
    assert.equal(await app.exists(read!), false);
    assert.equal(await app.exists(unread!), true);
  });

  it('logs what it pruned, and trims events past their retention', async () => {
    const pruned = (await app.get('/v1/events?type=retention.pruned')).json<EventList>().events;
    assert.ok(pruned.length > 0);
    assert.ok(pruned.every((e) => typeof e.data?.tasks === 'number'));
    app.clock.at += 15 * DAY;
    const report = await app.maintain();
    assert.ok(report.pruned.events > 0);
    const left = (await app.get('/v1/events?limit=1000')).json<EventList>().events;
    assert.ok(left.every((e) => e.at >= app.clock.at - 14 * DAY));
  });
});

describe('retention caps and maintenance', () => {
  it('keeps at most maxFinishedTasks and maxEvents, oldest going first', async () => {
    const app = await clockedApp({ maxFinishedTasks: 2, maxEvents: 5 });
    try {
      const ids = await app.finished(4);
      const report = await app.maintain();
      assert.equal(report.pruned.tasks, 2);
      assert.deepEqual(await Promise.all(ids.map((id) => app.exists(id))), [
        false,
        false,
        true,
        true,
      ]);
      // The cap applies before the run's own retention.pruned record is added.
      assert.equal(report.after.events, 6);
      const bare = await app.t.app.inject({
        method: 'POST',
        url: '/v1/maintenance',
        headers: app.t.admin,
      });
      assert.equal(bare.json<Report>().vacuumed, false, 'no body means the defaults');
    } finally {
      await app.t.close();
    }
  });

  it('POST /events/maintenance reports the old shape and vacuums when asked', async () => {
    const app = await clockedApp({ maxEvents: 3 });
    try {
      await app.finished(2);
      const res = await app.post('/events/maintenance', { vacuum: true });
      assert.equal(res.statusCode, 200);
      const body = res.json<{
        vacuumed: boolean;
        trim: { cutoff: number; deleted: number; count: number };
        before: { count: number };
        after: { count: number };
      }>();
      assert.equal(body.vacuumed, true);
      assert.equal(body.trim.cutoff, T0 - 14 * DAY);
      assert.equal(body.before.count, 6);
      assert.equal(body.trim.deleted, 3);
      assert.deepEqual([body.after.count, body.trim.count], [4, 4]);
      const lenient = await app.post('/events/maintenance', { vacuum: 'yes' });
      assert.equal(lenient.json<{ vacuumed: boolean }>().vacuumed, false);
    } finally {
      await app.t.close();
    }
  });
});

describe('the retention loop', () => {
  it('prunes on its own timer once the clock passes the retention time', async () => {
    const app = await clockedApp({ taskRetentionMs: HOUR, retentionIntervalMs: 10 });
    try {
      const [done] = await app.finished(1);
      const running = await app.create();
      await app.claim(1);
      app.clock.at += HOUR + 1;
      for (let i = 0; i < 200 && (await app.exists(done!)); i++) await sleep(10);
      assert.equal(await app.exists(done!), false);
      assert.equal(await app.stateOf(running), 'running');
    } finally {
      await app.t.close();
    }
  });

  it('forgets agent sessions unused for the session retention, and keeps the rest', async () => {
    const app = await clockedApp({ sessionRetentionMs: 30 * DAY });
    try {
      const turn = (key: string) =>
        app.post('/v1/tasks', {
          kind: 'agent',
          spec: { agent: 'claude', prompt: 'hi' },
          sessionKey: key,
        });
      await turn('old-room');
      app.clock.at += 20 * DAY;
      await turn('new-room');
      app.clock.at += 11 * DAY;
      const report = await app.maintain();
      assert.equal(report.pruned.sessions, 1);
      const keys = (await app.get('/v1/sessions')).json<{ sessions: { key: string }[] }>();
      assert.deepEqual(
        keys.sessions.map((s) => s.key),
        ['new-room'],
      );
    } finally {
      await app.t.close();
    }
  });

  it('works in batches and yields to the event loop between them', async () => {
    const app = await clockedApp({ maxFinishedTasks: 1 });
    try {
      await app.finished(25);
      let yielded = false;
      setImmediate(() => (yielded = true));
      const settings = { ...defaults(), maxFinishedTasks: 1 };
      const totals = await pruneAll(app.t.store, retentionRules(settings, app.clock.at, 10));
      assert.deepEqual([totals.tasks, totals.batches], [24, 3]);
      assert.equal(yielded, true, 'a callback queued before the run got a turn during it');
    } finally {
      await app.t.close();
    }
  });

  it('never overlaps runs, and stop() waits for the run in progress', async () => {
    const app = await clockedApp();
    try {
      let active = 0;
      let most = 0;
      let runs = 0;
      // The real store, with each prune made slow so ticks (every 5 ms) fall inside a run.
      const slowStore: Store = Object.create(app.t.store) as Store;
      slowStore.prune = async (rules) => {
        active += 1;
        most = Math.max(most, active);
        await sleep(30);
        runs += 1;
        active -= 1;
        return app.t.store.prune(rules);
      };
      const loop = startRetention({
        store: slowStore,
        clock: app.clock,
        settings: defaults(),
        intervalMs: 5,
        onError: (err) => assert.fail(String(err)),
      });
      // At least two runs (each 30 ms), however slow the machine: wait for them, not a fixed time.
      for (let waited = 0; runs < 2 && waited < 5_000; waited += 10) await sleep(10);
      await sleep(40);
      await loop.stop();
      const after = runs;
      assert.equal(active, 0, 'stop() resolved only after the run ended');
      assert.equal(most, 1);
      assert.ok(runs >= 2);
      await sleep(30);
      assert.equal(runs, after, 'no run after stop()');
    } finally {
      await app.t.close();
    }
  });
});

function defaults() {
  return {
    taskRetentionMs: 7 * DAY,
    resultRetentionMs: DAY,
    maxFinishedTasks: 100_000,
    eventRetentionMs: 14 * DAY,
    maxEvents: 100_000,
    sessionRetentionMs: 30 * DAY,
  };
}
