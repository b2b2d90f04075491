// The bench's store choice (--backend, the database URL variables) and its throwaway PostgreSQL
// schema: scoped URL, CPU of the schema's backends, dropped afterwards.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { chooseBackends, createBenchSchema, setupsFor } from '../../bench/backend.ts';
import { NO_DATABASE, TEST_DATABASE_URL } from '../helpers/postgres.ts';

const URL_A = 'postgres://u@db:5432/a';

describe('bench backend choice', () => {
  it('runs both stores when a database URL is set, the bench variable first', () => {
    const env = { TEST_DATABASE_URL: 'postgres://u@db:5432/t', OUTPOST_BENCH_DATABASE_URL: URL_A };
    assert.deepEqual(chooseBackends(undefined, env), {
      backends: ['sqlite', 'postgres'],
      url: URL_A,
    });
  });

  it('runs SQLite alone, with the reason, when no URL is set', () => {
    const got = chooseBackends(undefined, {});
    assert.deepEqual(got.backends, ['sqlite']);
    assert.match(got.reason ?? '', /OUTPOST_BENCH_DATABASE_URL nor TEST_DATABASE_URL/);
  });

  it('refuses postgres without a URL and names unknown backends', () => {
    assert.throws(() => chooseBackends('postgres', {}), /--backend postgres: neither/);
    assert.throws(() => chooseBackends('sqlite,mysql', {}), /unknown backend 'mysql'/);
  });

  it('keeps report order and gives PostgreSQL one and two replicas', () => {
    const choice = chooseBackends('postgres,sqlite', { TEST_DATABASE_URL: URL_A });
    assert.deepEqual(setupsFor(choice), [
      { backend: 'sqlite', replicas: 1 },
      { backend: 'postgres', replicas: 1 },
      { backend: 'postgres', replicas: 2 },
    ]);
    assert.equal(chooseBackends('sqlite', { TEST_DATABASE_URL: URL_A }).url, undefined);
  });
});

describe('bench schema', { skip: TEST_DATABASE_URL ? false : NO_DATABASE }, () => {
  it('scopes connections to a fresh schema, counts their CPU, and drops it', async () => {
    const base = `${TEST_DATABASE_URL!}${TEST_DATABASE_URL!.includes('?') ? '&' : '?'}options=-cwork_mem%3D5MB`;
    const schema = await createBenchSchema(base);
    assert.match(schema.schema, /^bench_[0-9a-f]{12}$/);
    const client = new pg.Client({ connectionString: schema.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ path: string; mem: string; app: string }>(
        `SELECT current_setting('search_path') AS path, current_setting('work_mem') AS mem,
          current_setting('application_name') AS app`,
      );
      // The operator's own options stay beside the bench's search_path.
      assert.deepEqual(rows[0], { path: schema.schema, mem: '5MB', app: schema.schema });
      await client.query('CREATE TABLE t (n int)');
      await client.query('INSERT INTO t SELECT generate_series(1, 300000)');
      await client.query('SELECT sum(n), count(DISTINCT n) FROM t');
      assert.ok((await schema.cpuMs()) > 0, 'the busy backend used CPU');
    } finally {
      await client.end();
      await schema.drop();
    }
    const check = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await check.connect();
    try {
      const { rowCount } = await check.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
        schema.schema,
      ]);
      assert.equal(rowCount, 0);
    } finally {
      await check.end();
    }
  });
});
