// Runs the Store conformance suite on PostgreSQL when TEST_DATABASE_URL names a throwaway database
// (each test on a fresh schema, dropped afterwards), plus what only PostgreSQL has: several pools
// claiming at once, migrations serialised across servers, and clear errors when it is unreachable.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { MIGRATIONS } from '../../src/store/postgres/migrations.ts';
import { runStoreConformance } from './conformance.ts';
import {
  addTasks,
  appError,
  assertClaimedOnce,
  claimConcurrently,
  newTask,
  T0,
} from './conformance/fixtures.ts';

const url = process.env.TEST_DATABASE_URL;

if (url === undefined || url === '') {
  describe('postgres store conformance', () => {
    it(
      'runs the store conformance suite',
      { skip: 'TEST_DATABASE_URL not set; set it to a throwaway PostgreSQL database to run it' },
      () => {},
    );
  });
} else {
  const schemas: string[] = [];
  const newSchema = (): string => {
    const schema = `t_${process.pid}_${Date.now().toString(36)}_${schemas.length}`;
    schemas.push(schema);
    return schema;
  };
  const open = (schema = newSchema(), max?: number): PostgresStore =>
    openPostgresStore(url, { schema, ...(max === undefined ? {} : { max }) });
  after(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  runStoreConformance('postgres', async () => open());

  describe('postgres store', () => {
    it('claims each task exactly once across several pools', { timeout: 60_000 }, async () => {
      const schema = newSchema();
      const stores = [open(schema, 4), open(schema, 4), open(schema, 4)];
      try {
        await Promise.all(stores.map((s) => s.migrate()));
        const ids = await addTasks(stores[0]!, 300);
        assertClaimedOnce(await claimConcurrently(stores, 24), ids);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('migrates once when several servers start together', async () => {
      const schema = newSchema();
      const stores = [open(schema), open(schema), open(schema)];
      try {
        await Promise.all(stores.map((s) => s.migrate()));
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        const { rows } = await client.query(
          `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
        );
        await client.end();
        assert.deepEqual(
          rows.map((r: { version: number }) => r.version),
          MIGRATIONS.map((_, i) => i + 1),
        );
        const { task } = await stores[1]!.createTask(newTask(), T0);
        assert.deepEqual(await stores[2]!.getTask(task.id), task);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('refuses a schema written by a newer Outpost', async () => {
      const schema = newSchema();
      const store = open(schema);
      try {
        await store.migrate();
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(
          `INSERT INTO "${schema}".schema_migrations VALUES (${MIGRATIONS.length + 1}, 0)`,
        );
        await client.end();
        await assert.rejects(store.migrate(), /newer than this Outpost/);
      } finally {
        await store.close();
      }
    });

    it('stores output holding a NUL character as the same bytes, and refuses one in a spec', async () => {
      const store = open();
      try {
        await store.migrate();
        const { task } = await store.createTask(newTask(), T0);
        const [claim] = await store.claimTasks({
          runner: 'r1',
          kinds: ['shell'],
          max: 1,
          leaseMs: 1_000,
          now: T0,
        });
        const data = 'a\u0000b';
        const chunks = [{ seq: 1, stream: 'stdout' as const, data }];
        const leaseToken = claim!.leaseToken;
        await store.appendOutput({ taskId: task.id, leaseToken, chunks, capBytes: 1024, now: T0 });
        const [chunk] = (await store.readOutput(task.id, 0, 10))!.chunks;
        assert.equal(Buffer.from(chunk!.data, 'base64').toString('utf8'), data);
        const nul = newTask({ spec: { command: 'echo \u0000' } });
        await assert.rejects(store.createTask(nul, T0), appError('bad_request'));
        assert.equal(await store.getTask(nul.id), undefined, 'nothing stored half-way');
      } finally {
        await store.close();
      }
    });

    it('prunes on one server at a time: a prune skips while another holds the lock', async () => {
      const schema = newSchema();
      const store = open(schema);
      const holder = new pg.Client({ connectionString: url });
      try {
        await store.migrate();
        await store.appendEvent({ type: 'x' }, T0);
        const rules = {
          now: T0,
          finishedBefore: 0,
          readBefore: 0,
          maxFinished: 1_000,
          eventsBefore: T0 + 1,
          maxEvents: 1_000,
          batch: 10,
        };
        await holder.connect();
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          `${schema}:retention`,
        ]);
        assert.deepEqual(await store.prune(rules), {
          tasks: 0,
          events: 0,
          sessions: 0,
          more: false,
        });
        await holder.query('COMMIT');
        assert.equal((await store.prune(rules)).events, 1);
      } finally {
        await holder.end();
        await store.close();
      }
    });

    it('says the database is unavailable when it cannot be reached, without the password', async () => {
      const store = openPostgresStore('postgres://outpost:secret-pw@127.0.0.1:1/nowhere');
      try {
        await assert.rejects(store.ping(), (err: unknown) => {
          assert.ok(appError('unavailable')(err));
          assert.doesNotMatch((err as Error).message, /secret-pw/);
          return true;
        });
      } finally {
        await store.close();
      }
    });
  });
}
