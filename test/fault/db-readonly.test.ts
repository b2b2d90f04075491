// Fault: the database cannot be written. (a) While the server runs: the database and its WAL are
// made immutable (`chattr +i`, root only: chmod does not stop root, nor writes through the file
// descriptors the server already holds). Submits must fail with a clear 503 JSON error, the server
// must stay up and, once writable again, work with nothing half-written. (b) At start-up: the
// server must refuse a database it cannot write with one clear message naming the file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, runCli } from '../helpers/processes.ts';
import {
  api,
  FAULT_TOKEN,
  listAllTasks,
  report,
  startServe,
  type Reply,
  type ServerProcess,
} from '../helpers/fault.ts';

type ErrorReply = Reply<{ error?: { code?: string; message?: string } }>;

const isRoot = process.getuid?.() === 0;

/** Sets or clears the immutable flag; false when the filesystem or user cannot. */
function immutable(on: boolean, paths: string[]): boolean {
  try {
    execFileSync('chattr', [on ? '+i' : '-i', ...paths], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the runtime case cannot run here, or undefined when it can. */
function runtimeSkipReason(probeDir: string): string | undefined {
  if (!isRoot)
    return 'not root: chattr +i needs root, and chmod does not stop writes through open files';
  if (!immutable(true, [probeDir]))
    return 'chattr +i is not supported here (filesystem or capability)';
  immutable(false, [probeDir]);
  return undefined;
}

const submit = (url: string, key: string): Promise<ErrorReply> =>
  api(
    url,
    'POST',
    '/v1/tasks',
    { kind: 'shell', spec: { command: 'true' } },
    {
      headers: { 'idempotency-key': key },
      timeoutMs: 30_000,
    },
  );

describe('database made read-only while the server runs', { timeout: 90_000 }, () => {
  let dir: string;
  let server: ServerProcess | undefined;
  let frozen: string[] = [];
  let skip: string | undefined;
  const readOnly: ErrorReply[] = [];
  let health: Reply | undefined;
  const afterwards: Reply[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outpost-fault-ro-'));
    skip = runtimeSkipReason(dir);
    if (skip) return;
    server = await startServe({ dataDir: dir });
    assert.equal((await submit(server.url, 'baseline')).status, 201);
    // Not the -shm index: SQLite maps it into memory, and a store to a mapped page of an
    // immutable file kills the process with SIGBUS, which no real read-only disk does.
    frozen = readdirSync(dir)
      .filter((f) => f === 'outpost.db' || f.endsWith('-wal'))
      .map((f) => join(dir, f));
    assert.ok(immutable(true, frozen), 'chattr +i');
    for (let i = 0; i < 2; i++) readOnly.push(await submit(server.url, `ro-${i}`));
    health = await api(server.url, 'GET', '/health');
    immutable(false, frozen);
    frozen = [];
    for (let i = 0; i < 2; i++) afterwards.push(await submit(server.url, `ro-${i}`));
  });
  after(async () => {
    if (frozen.length > 0) immutable(false, frozen);
    await server?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('answers submits with a clear 503 unavailable JSON error', (t) => {
    if (skip) return t.skip(skip);
    report(t, 'db-readonly', {
      statuses: readOnly.map((r) => r.status).join(','),
      body: JSON.stringify(readOnly[0]?.body),
    });
    for (const r of readOnly) {
      assert.equal(typeof r.body.error?.message, 'string', JSON.stringify(r.body));
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.error?.code, 'unavailable');
    }
  });

  it('stays up, and works again with nothing half-written once writable', async (t) => {
    if (skip || !server) return t.skip(skip);
    assert.equal(health?.status, 200);
    assert.equal(server.child.exitCode, null, 'the server is still running');
    assert.deepEqual(
      afterwards.map((r) => r.status),
      [201, 201],
    );
    assert.equal((await listAllTasks(server.url)).length, 3, 'baseline + one per retried key');
  });
});

describe('server started on a database it cannot write', { timeout: 60_000 }, () => {
  it('refuses to start with one clear message naming the file', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'outpost-fault-ro-start-'));
    const dataDir = join(dir, 'data');
    let locked: string[] = [];
    t.after(async () => {
      if (locked.length > 0) immutable(false, locked);
      chmodSync(dataDir, 0o700);
      await rm(dir, { recursive: true, force: true });
    });
    const first = await startServe({ dataDir });
    assert.equal((await submit(first.url, 'one')).status, 201);
    await first.stop('SIGTERM');
    const db = join(dataDir, 'outpost.db');
    if (isRoot) {
      locked = [dataDir, ...readdirSync(dataDir).map((f) => join(dataDir, f))];
      if (!immutable(true, locked)) return t.skip('root, and chattr +i is not supported here');
    } else {
      chmodSync(db, 0o444);
      chmodSync(dataDir, 0o555);
    }
    const env = cleanEnv({ OUTPOST_TOKEN: FAULT_TOKEN, OUTPOST_DATA_DIR: dataDir });
    const res = await runCli(['serve', '--port', '0'], env, 30_000);
    report(t, 'db-readonly-start', {
      code: res.code,
      stderr: JSON.stringify(res.stderr.slice(0, 160)),
    });
    assert.notEqual(res.code, null, 'it did not start (and hang) on a database it cannot write');
    assert.notEqual(res.code, 0);
    assert.ok(res.stderr.includes(db), `the message names ${db}: ${res.stderr}`);
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'one message, not a stack trace');
  });
});
