// End to end on PostgreSQL: `outpost serve --database postgres://...` with a real runner and
// `outpost run`, and a clear refusal of a malformed database URL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cleanEnv, runCli, startCluster, type Cluster } from '../helpers/processes.ts';
import {
  createTestSchema,
  NO_DATABASE,
  TEST_DATABASE_URL,
  type TestSchema,
} from '../helpers/postgres.ts';

const TOKEN = 'e2e-pg-token-0123456789abcdef';

describe('outpost serve --database postgres://', { timeout: 120_000 }, () => {
  const testDatabase = TEST_DATABASE_URL;
  if (testDatabase === undefined) {
    it('runs a command through a server on PostgreSQL', { skip: NO_DATABASE }, () => {});
    return;
  }
  let cluster: Cluster;
  let schema: TestSchema;
  let database: string;

  before(async () => {
    schema = await createTestSchema(testDatabase);
    database = schema.url;
    cluster = await startCluster('pg-e2e', TOKEN, ['--database', database]);
  });

  after(async () => {
    await cluster?.close();
    await schema?.drop();
  });

  it('runs a command through a server on PostgreSQL', async () => {
    const res = await runCli(['run', '--', 'echo', 'hi'], cluster.env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'hi\n');
    const list = await runCli(['tasks', '--json'], cluster.env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /"state": ?"succeeded"/);
  });

  it('makes tokens straight on the PostgreSQL database with token create --db', async () => {
    const env = cleanEnv({ OUTPOST_DATA_DIR: cluster.dir });
    const res = await runCli(['token', 'create', 'ci', '--role', 'client', '--db', database], env);
    assert.equal(res.code, 0, res.stderr);
    const secret = /op_\S+/.exec(res.stdout)?.[0];
    assert.ok(secret, res.stdout);
    const status = await fetch(`${cluster.url}/v1/tasks?limit=1`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    assert.equal(status.status, 200);
  });

  it('refuses a malformed database URL, naming --database', async () => {
    const env = cleanEnv({ OUTPOST_DATA_DIR: cluster.dir });
    const res = await runCli(['serve', '--port', '0', '--database', 'postgres://pw:x@'], env);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /--database: must be a valid postgres:\/\/ URL/);
    assert.doesNotMatch(res.stderr, /pw:x/);
  });
});
