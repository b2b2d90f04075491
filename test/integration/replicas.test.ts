// Two servers (real apps, real HTTP handling via inject) on one PostgreSQL schema: a long poll on
// one wakes promptly when the other creates or cancels a task (LISTEN/NOTIFY, well inside the
// 5 s backstop recheck), also after the listening connection was killed and came back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createApp, type OutpostApp } from '../../src/server/create-app.ts';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { REPLICA_RECHECK_MS } from '../../src/server/queue/replica-wakeups.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Task } from '../../src/protocol/tasks.ts';
import { ADMIN_TOKEN, testAppOptions } from '../helpers/app.ts';
import {
  createTestSchema,
  NO_DATABASE,
  TEST_DATABASE_URL,
  type TestSchema,
} from '../helpers/postgres.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** Prompt: well under the backstop, so only a notice can explain it. */
const PROMPT_MS = REPLICA_RECHECK_MS - 1_500;

interface Replica {
  app: OutpostApp;
  store: PostgresStore;
}

describe('server replicas on one PostgreSQL database', { timeout: 120_000 }, () => {
  const database = TEST_DATABASE_URL;
  if (database === undefined) {
    it('wakes a long poll on one server for a task created on another', { skip: NO_DATABASE });
    return;
  }
  let schema: TestSchema;
  let a: Replica;
  let b: Replica;

  const start = async (): Promise<Replica> => {
    const store = openPostgresStore(schema.url, { max: 4 });
    await store.migrate();
    const app = await createApp({ store, options: testAppOptions() });
    await app.ready();
    return { app, store };
  };

  before(async () => {
    schema = await createTestSchema(database);
    [a, b] = [await start(), await start()];
  });

  after(async () => {
    for (const r of [a, b]) {
      await r?.app.close();
      await r?.store.close();
    }
    await schema?.drop();
  });

  const create = async (on: Replica): Promise<Task> => {
    const payload = { kind: 'shell', spec: { command: 'true' } };
    const res = await on.app.inject({ method: 'POST', url: '/v1/tasks', payload, headers: admin });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Task>();
  };

  /** A runner's long poll on `on`; resolves with the claims and how long it waited. */
  const longPoll = async (on: Replica, runner: string) => {
    const started = Date.now();
    const payload = { runner, max: 1, waitMs: 20_000 };
    const res = await on.app.inject({
      method: 'POST',
      url: '/v1/runner/claim',
      payload,
      headers: admin,
    });
    return { tasks: res.json<{ tasks: Claim[] }>().tasks, ms: Date.now() - started };
  };

  /** Lets a long poll reach its wait before the other server acts. */
  const settle = () => sleep(300);

  it('wakes a long poll on one server for a task created on another', async () => {
    const poll = longPoll(a, 'ra');
    await settle();
    const task = await create(b);
    const { tasks, ms } = await poll;
    assert.deepEqual(
      tasks.map((c) => c.task.id),
      [task.id],
    );
    assert.ok(ms < PROMPT_MS + 300, `took ${ms} ms`);
  });

  it('wakes a task waiter on one server when another cancels the task', async () => {
    const task = await create(a);
    const started = Date.now();
    const wait = a.app.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id}?wait=20000`,
      headers: admin,
    });
    await settle();
    const cancel = await b.app.inject({
      method: 'POST',
      url: `/v1/tasks/${task.id}/cancel`,
      headers: admin,
    });
    assert.equal(cancel.statusCode, 200, cancel.body);
    const waited = (await wait).json<Task>();
    assert.equal(waited.state, 'cancelled');
    assert.ok(Date.now() - started < PROMPT_MS + 300, `took ${Date.now() - started} ms`);
  });

  it('wakes a claim poll waiting for a concurrency slot when another server ends the holder', async () => {
    const payload = {
      kind: 'shell',
      spec: { command: 'true' },
      concurrency: { key: 'deploy', limit: 1 },
    };
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await a.app.inject({ method: 'POST', url: '/v1/tasks', payload, headers: admin });
      ids.push(res.json<Task>().id);
    }
    let [holder] = (await longPoll(a, 'ra')).tasks;
    assert.equal(holder?.task.id, ids[0]);
    // Three rounds, each well under a second: the 5 s backstop ticks on its own schedule, so one
    // round could be woken by it by chance, but not all three.
    for (const next of ids.slice(1)) {
      const poll = longPoll(a, 'rb');
      await settle();
      const outcome = { status: 'succeeded', exitCode: 0, stdout: '', stderr: '' };
      const finish = await b.app.inject({
        method: 'POST',
        url: '/v1/runner/finish',
        payload: { taskId: holder!.task.id, leaseToken: holder!.leaseToken, outcome },
        headers: admin,
      });
      assert.equal(finish.statusCode, 200, finish.body);
      const finished = Date.now();
      const { tasks } = await poll;
      assert.deepEqual(
        tasks.map((c) => c.task.id),
        [next],
      );
      assert.ok(Date.now() - finished < 1_000, `took ${Date.now() - finished} ms after the finish`);
      holder = tasks[0];
    }
  });

  it('listens again after its connection is lost, and still wakes promptly', async () => {
    const channel = `outpost:${schema.schema}`;
    const killed = await listeners(database, channel, 'terminate');
    assert.ok(killed >= 2, `expected both servers' listeners, got ${killed}`);
    const deadline = Date.now() + 20_000;
    while ((await listeners(database, channel, 'count')) < 2) {
      assert.ok(Date.now() < deadline, 'the listeners did not come back');
      await sleep(100);
    }
    const poll = longPoll(b, 'rb');
    await settle();
    const task = await create(a);
    const { tasks, ms } = await poll;
    assert.deepEqual(
      tasks.map((c) => c.task.id),
      [task.id],
    );
    assert.ok(ms < PROMPT_MS + 300, `took ${ms} ms`);
  });
});

/** Counts (or terminates) the connections LISTENing on `channel`. */
async function listeners(url: string, channel: string, what: 'count' | 'terminate') {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const select = what === 'count' ? 'pid' : 'pg_terminate_backend(pid)';
    const { rows } = await client.query(
      `SELECT ${select} FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()`,
      [`LISTEN ${pg.escapeIdentifier(channel)}`],
    );
    return rows.length;
  } finally {
    await client.end();
  }
}
