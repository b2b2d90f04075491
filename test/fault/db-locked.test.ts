// Fault: another process holds SQLite's write lock (BEGIN EXCLUSIVE) on the server's database.
// Submits must fail with a clear 503 JSON error in bounded time, the server must keep answering
// what needs no write, and once the lock is gone it must work again with nothing half-written.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  api,
  listAllTasks,
  report,
  startServe,
  type Reply,
  type ServerProcess,
} from '../helpers/fault.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LOCKED_SUBMITS = 3;
const HOLD_LOCK = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.exec('BEGIN EXCLUSIVE');
db.prepare("UPDATE tasks SET priority = priority WHERE 0").run();
process.stdout.write('locked\\n');
setInterval(() => {}, 1000);
`;

interface Timed {
  reply?: Reply<{ error?: { code?: string; message?: string } }>;
  failure?: string;
  ms: number;
  /** When the reply came, in ms after the lock was taken. */
  doneAt: number;
}

const submit = (url: string, key: string) =>
  api<{ error?: { code?: string; message?: string } }>(
    url,
    'POST',
    '/v1/tasks',
    { kind: 'shell', spec: { command: 'true' } },
    { headers: { 'idempotency-key': key }, timeoutMs: 60_000 },
  );

async function timed(t0: number, call: () => Promise<Timed['reply']>): Promise<Timed> {
  const start = Date.now();
  try {
    const reply = await call();
    return { reply, ms: Date.now() - start, doneAt: Date.now() - t0 };
  } catch (err) {
    return { failure: String(err), ms: Date.now() - start, doneAt: Date.now() - t0 };
  }
}

describe('database locked by another process', { timeout: 120_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let holder: ChildProcess | undefined;
  let locked: Timed[] = [];
  let health: Timed;
  let read: Timed;
  const afterRelease: Reply[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outpost-fault-locked-'));
    server = await startServe({ dataDir: dir });
    assert.equal((await submit(server.url, 'baseline')).status, 201);
    holder = spawn(process.execPath, ['-e', HOLD_LOCK, join(dir, 'outpost.db')], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(holder.stdout!, 'data');
    const t0 = Date.now();
    const submits = Array.from({ length: LOCKED_SUBMITS }, (_, i) =>
      timed(t0, () => submit(server.url, `locked-${i}`)),
    );
    await sleep(100);
    const healthCall = timed(t0, () =>
      api(server.url, 'GET', '/health', undefined, { timeoutMs: 60_000 }),
    );
    const readCall = timed(t0, () =>
      api(server.url, 'GET', '/v1/tasks?limit=5', undefined, { timeoutMs: 60_000 }),
    );
    locked = await Promise.all(submits);
    [health, read] = await Promise.all([healthCall, readCall]);
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    holder = undefined;
    for (let i = 0; i < LOCKED_SUBMITS; i++)
      afterRelease.push(await submit(server.url, `locked-${i}`));
  });
  after(async () => {
    holder?.kill('SIGKILL');
    await server?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('answers each locked submit with a clear 503 unavailable JSON error', (t) => {
    report(t, 'db-locked', {
      submits: locked.map((s) => `${s.reply?.status ?? s.failure}@${s.doneAt}ms`).join(','),
      body: JSON.stringify(locked[0]?.reply?.body),
      healthAt: `${health.doneAt}ms`,
      readAt: `${read.doneAt}ms`,
    });
    for (const s of locked) {
      assert.ok(s.reply, `the submit got no reply: ${s.failure}`);
      assert.equal(typeof s.reply.body.error?.message, 'string');
      assert.equal(s.reply.status, 503, JSON.stringify(s.reply.body));
      assert.equal(s.reply.body.error?.code, 'unavailable');
      assert.match(s.reply.body.error?.message ?? '', /lock|busy/i);
    }
  });

  it('keeps answering health and reads while submits wait for the lock', () => {
    assert.equal(health.reply?.status, 200, health.failure);
    assert.equal(read.reply?.status, 200, read.failure);
    // Not a speed bar: only that a request needing no write does not queue behind blocked writes.
    const lastSubmit = Math.max(...locked.map((s) => s.doneAt));
    assert.ok(
      health.doneAt < lastSubmit,
      `health answered at ${health.doneAt} ms, after the writes (${lastSubmit} ms)`,
    );
    assert.ok(
      read.doneAt < lastSubmit,
      `a read answered at ${read.doneAt} ms, after the writes (${lastSubmit} ms)`,
    );
  });

  it('works again once the lock is released, with nothing half-written', async () => {
    assert.equal(server.child.exitCode, null, 'the server is still running');
    assert.deepEqual(
      afterRelease.map((r) => r.status),
      Array(LOCKED_SUBMITS).fill(201),
    );
    const tasks = await listAllTasks(server.url);
    assert.equal(tasks.length, 1 + LOCKED_SUBMITS, 'the baseline task plus one per retried key');
    assert.ok(tasks.every((task) => task.state === 'queued'));
  });
});
