// Schedules on PostgreSQL with an injected clock: two real apps on one schema (two servers)
// firing at the same moment create exactly one task per slot, and a server restarting past missed
// slots fires once. The SQLite twin is schedule-replicas.test.ts. Skipped without TEST_DATABASE_URL.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createApp, type OutpostApp } from '../../src/server/create-app.ts';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { Schedule } from '../../src/protocol/schedules.ts';
import type { TaskList } from '../../src/protocol/tasks.ts';
import type { EventList } from '../../src/protocol/events.ts';
import { ADMIN_TOKEN, testAppOptions } from '../helpers/app.ts';
import {
  createTestSchema,
  NO_DATABASE,
  TEST_DATABASE_URL,
  type TestSchema,
} from '../helpers/postgres.ts';

const T0 = Date.UTC(2024, 0, 15, 10, 2, 30);
const MINUTE = 60_000;
const SHELL = { kind: 'shell', spec: { command: 'date' } };
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface Server {
  app: OutpostApp;
  store: PostgresStore;
  close(): Promise<void>;
}

describe('schedules on PostgreSQL across servers and restarts', { timeout: 120_000 }, () => {
  const database = TEST_DATABASE_URL;
  if (database === undefined) {
    it('fires each slot once with two servers on one schema', { skip: NO_DATABASE });
    return;
  }
  const schemas: TestSchema[] = [];
  after(async () => {
    for (const schema of schemas) await schema.drop();
  });

  const newSchema = async () => {
    const schema = await createTestSchema(database);
    schemas.push(schema);
    return schema;
  };

  /** A server on `schema`; the backstop is long, so only the start and the test fire slots. */
  const open = async (schema: TestSchema, clock: { now(): number }): Promise<Server> => {
    const store = openPostgresStore(schema.url, { max: 4 });
    await store.migrate();
    const options = { ...testAppOptions(), scheduleBackstopMs: 600_000 };
    const app = await createApp({ store, clock, options });
    await app.ready();
    return {
      app,
      store,
      close: async () => {
        await app.close();
        await store.close();
      },
    };
  };

  const get = async <T>(server: Server, url: string): Promise<T> => {
    const res = await server.app.inject({ method: 'GET', url, headers: admin });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<T>();
  };

  const createSchedule = async (server: Server, body: object): Promise<Schedule> => {
    const res = await server.app.inject({
      method: 'POST',
      url: '/v1/schedules',
      headers: admin,
      payload: body,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Schedule>();
  };

  const scheduledTasks = async (server: Server) =>
    (await get<TaskList>(server, '/v1/tasks?limit=500')).tasks.filter(
      (task) => task.scheduleId !== undefined,
    );

  const untilCount = async (server: Server, count: number, what: string): Promise<void> => {
    const deadline = Date.now() + 5_000;
    let seen = (await scheduledTasks(server)).length;
    while (seen < count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      seen = (await scheduledTasks(server)).length;
    }
    assert.equal(seen, count, what);
  };

  it('two servers firing at once create each slot exactly once', async () => {
    const schema = await newSchema();
    const clock = { at: T0, now: () => clock.at };
    const [a, b] = [await open(schema, clock), await open(schema, clock)];
    try {
      await createSchedule(a, { cron: '* * * * *', overlap: 'allow', task: SHELL });
      await createSchedule(b, { cron: '*/2 * * * *', overlap: 'allow', task: SHELL });
      const slots = 20;
      let expected = 0;
      for (let minute = 1; minute <= slots; minute++) {
        clock.at = T0 + minute * MINUTE;
        await Promise.all([a.app.schedules.fireDue(), b.app.schedules.fireDue()]);
        expected += minute % 2 === 0 ? 2 : 1;
        // Counted by what exists, not by who fired it: a server's own schedule loop, re-arming
        // after the create's poke, may read the moved clock and fire the first slot itself.
        await untilCount(b, expected, `minute ${minute}`);
      }
      assert.equal((await scheduledTasks(b)).length, slots + slots / 2);
      const fired = await get<EventList>(a, '/v1/events?type=schedule.fired&limit=500');
      const slotKeys = fired.events.map(
        (e) => `${String(e.data?.scheduleId)}@${String(e.data?.slot)}`,
      );
      assert.equal(slotKeys.length, slots + slots / 2);
      assert.equal(new Set(slotKeys).size, slotKeys.length, 'a slot fired twice');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a restart past missed slots fires once, and a second server starting then adds none', async () => {
    const schema = await newSchema();
    const clock = { at: T0, now: () => clock.at };
    const first = await open(schema, clock);
    const s = await createSchedule(first, { cron: '*/5 * * * *', task: SHELL });
    await first.close();
    // Down for an hour: twelve slots missed. Two servers come back at once.
    clock.at = T0 + 60 * MINUTE;
    const [a, b] = await Promise.all([open(schema, clock), open(schema, clock)]);
    try {
      const tasks = await scheduledTasks(a);
      assert.deepEqual(
        tasks.map((task) => task.scheduleId),
        [s.id],
      );
      const read = await get<Schedule>(b, `/v1/schedules/${s.id}`);
      assert.equal(read.nextRunAt, Date.UTC(2024, 0, 15, 11, 5));
      const fired = await get<EventList>(b, '/v1/events?type=schedule.fired');
      assert.equal(fired.events.length, 1);
      assert.equal((await a.app.schedules.fireDue()).fired, 0);
      assert.equal((await b.app.schedules.fireDue()).fired, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
