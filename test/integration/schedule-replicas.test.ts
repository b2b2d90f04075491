// Schedules across restarts and servers, on one SQLite file with an injected clock: slots missed
// while the server was down fire once on start (not once per slot), and two app instances firing
// at the same moment create exactly one task per slot.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAppOn, type TestApp } from '../helpers/app.ts';
import type { Schedule } from '../../src/protocol/schedules.ts';
import type { TaskList } from '../../src/protocol/tasks.ts';
import type { EventList } from '../../src/protocol/events.ts';

const T0 = Date.UTC(2024, 0, 15, 10, 2, 30);
const MINUTE = 60_000;
const SHELL = { kind: 'shell', spec: { command: 'date' } };

const dir = mkdtempSync(join(tmpdir(), 'outpost-schedules-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function newClock() {
  const clock = { at: T0, now: () => clock.at };
  return clock;
}

/** The backstop is long: only the start and the test fire slots. */
const open = (path: string, clock: { now(): number }) =>
  buildAppOn(path, { scheduleBackstopMs: 600_000 }, clock);

async function createSchedule(t: TestApp, body: object): Promise<Schedule> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/schedules',
    headers: t.admin,
    payload: body,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<Schedule>();
}

async function scheduledTasks(t: TestApp) {
  const res = await t.app.inject({ method: 'GET', url: '/v1/tasks?limit=500', headers: t.admin });
  return res.json<TaskList>().tasks.filter((task) => task.scheduleId !== undefined);
}

describe('schedules across restarts and servers', () => {
  it('a restart past missed slots fires once, then goes on from the next slot', async () => {
    const path = join(dir, `db-${++files}.db`);
    const clock = newClock();
    const first = await open(path, clock);
    const s = await createSchedule(first, { cron: '*/5 * * * *', task: SHELL });
    await first.close();
    // Down for an hour: twelve slots missed.
    clock.at = T0 + 60 * MINUTE;
    const second = await open(path, clock);
    try {
      // Fired while starting, before the app was ready.
      const tasks = await scheduledTasks(second);
      assert.equal(tasks.length, 1);
      assert.deepEqual(tasks[0]?.scheduleId, s.id);
      const after = (
        await second.app.inject({
          method: 'GET',
          url: `/v1/schedules/${s.id}`,
          headers: second.admin,
        })
      ).json<Schedule>();
      assert.equal(after.nextRunAt, Date.UTC(2024, 0, 15, 11, 5));
      const fired = await second.app.inject({
        method: 'GET',
        url: '/v1/events?type=schedule.fired',
        headers: second.admin,
      });
      assert.equal(fired.json<EventList>().events.length, 1);
      assert.equal((await second.app.schedules.fireDue()).fired, 0);
    } finally {
      await second.close();
    }
    // Opening again at the same time fires nothing more.
    const third = await open(path, clock);
    try {
      assert.equal((await scheduledTasks(third)).length, 1);
    } finally {
      await third.close();
    }
  });

  it('two servers on one database firing at once create each slot exactly once', async () => {
    const path = join(dir, `db-${++files}.db`);
    const clock = newClock();
    const [a, b] = [await open(path, clock), await open(path, clock)];
    try {
      await createSchedule(a, { cron: '* * * * *', overlap: 'allow', task: SHELL });
      await createSchedule(b, { cron: '*/2 * * * *', overlap: 'allow', task: SHELL });
      const slots = 20;
      for (let minute = 1; minute <= slots; minute++) {
        clock.at = T0 + minute * MINUTE;
        const counts = await Promise.all([a.app.schedules.fireDue(), b.app.schedules.fireDue()]);
        const perMinute = minute % 2 === 0 ? 2 : 1;
        assert.equal(counts[0].fired + counts[1].fired, perMinute, `minute ${minute}`);
      }
      const tasks = await scheduledTasks(b);
      assert.equal(tasks.length, slots + slots / 2);
      const fired = await a.app.inject({
        method: 'GET',
        url: '/v1/events?type=schedule.fired&limit=500',
        headers: a.admin,
      });
      const slotKeys = fired
        .json<EventList>()
        .events.map((e) => `${String(e.data?.scheduleId)}@${String(e.data?.slot)}`);
      assert.equal(new Set(slotKeys).size, slotKeys.length, 'a slot fired twice');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
