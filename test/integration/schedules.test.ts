// Schedules through the app with an injected clock: bad input refused naming the field, a slot
// fires on time and once, overlap skip and allow, delete stops it, and the timer fires on its own.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import type { AppOptions } from '../../src/server/create-app.ts';
import type { Schedule, ScheduleList } from '../../src/protocol/schedules.ts';
import type { Task, TaskList } from '../../src/protocol/tasks.ts';
import type { EventList } from '../../src/protocol/events.ts';

/** Monday 15 January 2024, 10:02:30 UTC. */
const T0 = Date.UTC(2024, 0, 15, 10, 2, 30);
const MINUTE = 60_000;
const SLOT = Date.UTC(2024, 0, 15, 10, 5);
const SHELL = { kind: 'shell', spec: { command: 'date' } };

/** An app whose clock the test moves; the backstop is long, so only the test fires slots. */
export async function clockedApp(options: Partial<AppOptions> = {}) {
  const clock = { at: T0, now: () => clock.at };
  const t = await buildTestApp({ scheduleBackstopMs: 600_000, ...options }, clock);
  return { ...helpers(t), clock };
}

function helpers(t: TestApp) {
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: t.admin, ...(payload ? { payload } : {}) });
  const create = async (body: object) => {
    const res = await call('POST', '/v1/schedules', body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Schedule>();
  };
  const schedule = async (id: string) =>
    (await call('GET', `/v1/schedules/${id}`)).json<Schedule>();
  const tasks = async () => (await call('GET', '/v1/tasks')).json<TaskList>().tasks;
  const events = async (type: string) =>
    (await call('GET', `/v1/events?type=${type}`)).json<EventList>().events;
  return { t, call, create, schedule, tasks, events };
}

describe('schedules: create, read, list, delete', () => {
  let app: Awaited<ReturnType<typeof clockedApp>>;
  before(async () => (app = await clockedApp()));
  after(() => app.t.close());

  it('refuses bad input with a 400 naming the field, and stores nothing', async () => {
    const cases: [object, string][] = [
      [{ cron: 'every day', task: SHELL }, 'cron:'],
      [{ cron: '61 * * * *', task: SHELL }, 'cron:'],
      [{ cron: '* * * * * *', task: SHELL }, 'cron:'],
      [{ cron: '0 0 30 2 *', task: SHELL }, 'cron: has no time after now'],
      [{ cron: '* * * * *', timezone: 'Mars/Olympus', task: SHELL }, 'timezone:'],
      [{ cron: '* * * * *', task: { kind: 'shell', spec: {} } }, 'task.spec.command'],
      [{ cron: '* * * * *', task: { kind: 'sh', spec: {} } }, 'body.task.kind'],
      [{ cron: '* * * * *', task: { ...SHELL, runAt: T0 } }, 'task.runAt'],
      [{ cron: '* * * * *', overlap: 'queue', task: SHELL }, 'body.overlap'],
      [{ task: SHELL }, 'cron'],
      [
        { cron: '* * * * *', task: { ...SHELL, callback: { webhook: { url: 'https://x.test' } } } },
        'task.callback.webhook.secret: is required',
      ],
      [
        {
          cron: '* * * * *',
          task: {
            ...SHELL,
            callback: { webhook: { url: 'https://x.test', secret: 's3cret-0123456789abcdef' } },
          },
        },
        'task.callback.webhook.secret: not allowed',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await app.call('POST', '/v1/schedules', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      const { error } = res.json<{ error: { code: string; message: string } }>();
      assert.equal(error.code, 'bad_request');
      assert.ok(error.message.includes(field), `${field} in: ${error.message}`);
      assert.ok(!error.message.includes('s3cret'), 'never echoes a secret');
    }
    const list = (await app.call('GET', '/v1/schedules')).json<ScheduleList>();
    assert.deepEqual(list.schedules, []);
  });

  it('a legacy runner cannot forge a schedule event', async () => {
    const res = await app.call('POST', '/worker/event', { type: 'schedule.fired' });
    assert.equal(res.statusCode, 400, res.body);
  });

  it('creates with the next slot, reads it back, lists with a cursor and deletes', async () => {
    const a = await app.create({ name: 'every 5', cron: '*/5 * * * *', task: SHELL });
    assert.equal(a.nextRunAt, SLOT);
    assert.equal(a.overlap, 'skip');
    assert.equal(a.enabled, true);
    assert.deepEqual(a.task, SHELL);
    const paris = await app.create({ cron: '0 9 * * *', timezone: 'Europe/Paris', task: SHELL });
    // 09:00 in Paris is 08:00 UTC in January; today's has passed, so tomorrow's.
    assert.equal(paris.nextRunAt, Date.UTC(2024, 0, 16, 8, 0));
    const off = await app.create({ cron: '* * * * *', enabled: false, task: SHELL });
    assert.equal(off.nextRunAt, undefined);
    assert.deepEqual(await app.schedule(a.id), a);
    const page = (await app.call('GET', '/v1/schedules?limit=2')).json<ScheduleList>();
    assert.deepEqual(
      page.schedules.map((s) => s.id),
      [off.id, paris.id],
    );
    const rest = await app.call('GET', `/v1/schedules?limit=2&cursor=${page.nextCursor}`);
    assert.deepEqual(rest.json<ScheduleList>(), { schedules: [a] });
    for (const s of [a, paris, off]) {
      const res = await app.call('DELETE', `/v1/schedules/${s.id}`);
      assert.deepEqual(res.json(), { deleted: true });
    }
    assert.equal((await app.call('GET', `/v1/schedules/${a.id}`)).statusCode, 404);
    assert.equal((await app.call('DELETE', `/v1/schedules/${a.id}`)).statusCode, 404);
  });
});

describe('schedules: firing', () => {
  it('fires on time, once, with the task linked to its schedule', async () => {
    const app = await clockedApp();
    try {
      const s = await app.create({ cron: '*/5 * * * *', task: { ...SHELL, priority: 5 } });
      app.clock.at = SLOT - 1;
      assert.deepEqual(await app.t.app.schedules.fireDue(), { fired: 0, skipped: 0, failed: 0 });
      assert.deepEqual(await app.tasks(), []);
      app.clock.at = SLOT;
      assert.equal((await app.t.app.schedules.fireDue()).fired, 1);
      assert.equal((await app.t.app.schedules.fireDue()).fired, 0);
      const [task] = await app.tasks();
      assert.equal(task?.scheduleId, s.id);
      assert.equal(task?.priority, 5);
      assert.equal(task?.runAt, SLOT);
      const read = (await app.call('GET', `/v1/tasks/${task?.id}`)).json<Task>();
      assert.equal(read.scheduleId, s.id);
      const after = await app.schedule(s.id);
      assert.equal(after.lastRunAt, SLOT);
      assert.equal(after.lastTaskId, task?.id);
      assert.equal(after.nextRunAt, SLOT + 5 * MINUTE);
      assert.equal(after.fired, 1);
      const [fired] = await app.events('schedule.fired');
      assert.equal(fired?.taskId, task?.id);
    } finally {
      await app.t.close();
    }
  });

  it('overlap skip waits for the previous task to end; allow does not', async () => {
    const app = await clockedApp();
    try {
      const skip = await app.create({ cron: '* * * * *', task: SHELL });
      const allow = await app.create({ cron: '* * * * *', overlap: 'allow', task: SHELL });
      for (let minute = 1; minute <= 3; minute++) {
        app.clock.at = T0 + minute * MINUTE;
        await app.t.app.schedules.fireDue();
      }
      const bySchedule = async (id: string) =>
        (await app.tasks()).filter((t) => t.scheduleId === id);
      assert.equal((await bySchedule(allow.id)).length, 3);
      const [first, ...others] = await bySchedule(skip.id);
      assert.deepEqual(others, []);
      assert.equal((await app.schedule(skip.id)).skipped, 2);
      assert.equal((await app.events('schedule.skipped')).length, 2);
      await app.call('POST', `/v1/tasks/${first?.id}/cancel`);
      app.clock.at = T0 + 4 * MINUTE;
      await app.t.app.schedules.fireDue();
      assert.equal((await bySchedule(skip.id)).length, 2);
    } finally {
      await app.t.close();
    }
  });

  it('stops firing once deleted', async () => {
    const app = await clockedApp();
    try {
      const s = await app.create({ cron: '*/5 * * * *', task: SHELL });
      await app.call('DELETE', `/v1/schedules/${s.id}`);
      app.clock.at = SLOT + 60 * MINUTE;
      assert.deepEqual(await app.t.app.schedules.fireDue(), { fired: 0, skipped: 0, failed: 0 });
      assert.deepEqual(await app.tasks(), []);
    } finally {
      await app.t.close();
    }
  });

  it('fires on its own timer when the slot comes', async () => {
    const app = await clockedApp({ scheduleBackstopMs: 20 });
    try {
      await app.create({ cron: '*/5 * * * *', task: SHELL });
      await sleep(100);
      assert.deepEqual(await app.tasks(), []);
      app.clock.at = SLOT;
      const deadline = Date.now() + 5_000;
      while ((await app.tasks()).length === 0 && Date.now() < deadline) await sleep(20);
      assert.equal((await app.tasks()).length, 1);
    } finally {
      await app.t.close();
    }
  });
});
