// Runs the Store conformance suite on SQLite (a WAL file per test), plus what only SQLite has:
// several connections and processes on one file, in-memory databases, and schema versions.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS, readSchemaVersion } from '../../src/store/sqlite/migrations.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { runStoreConformance } from './conformance.ts';
import {
  addTasks,
  assertClaimedOnce,
  claimConcurrently,
  claimOne,
  claimRequest,
  newTask,
  SUCCEEDED,
  T0,
} from './conformance/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'outpost-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newDbPath = (): string => join(dir, `store-${++files}.db`);

runStoreConformance('sqlite', async () => openSqliteStore(newDbPath()));

/** Starts a claim worker process and resolves once it has opened the store. */
async function startWorker(path: string, runner: string, max = 2) {
  const script = join(import.meta.dirname, 'sqlite-claim-worker.ts');
  const worker = spawn(process.execPath, ['--import', 'tsx', script, path, runner, String(max)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: worker.stdout });
  const [ready] = (await once(lines, 'line')) as [string];
  assert.equal(ready, 'ready');
  const result = once(lines, 'line').then(([json]) => JSON.parse(json as string) as string[]);
  return { go: () => worker.stdin.end('go\n'), result };
}

describe('sqlite store', () => {
  it('uses WAL journaling on a file database', async () => {
    const path = newDbPath();
    await openSqliteStore(path).close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  it('checkpoints the WAL only after 10,000 pages, not SQLite’s default 1,000', async () => {
    const path = newDbPath();
    const store = openSqliteStore(path);
    try {
      // At 1,000 pages a checkpoint would let the WAL start over, so its file would stay near 4 MiB.
      const walBytes = () => statSync(`${path}-wal`).size;
      for (let round = 0; round < 50 && walBytes() <= 1_500 * 4096; round++) {
        await addTasks(store, 20);
      }
      assert.ok(walBytes() > 1_500 * 4096, `the WAL stayed at ${walBytes()} bytes`);
    } finally {
      await store.close();
    }
  });

  it('claims each task exactly once across two connections to one file', async () => {
    const path = newDbPath();
    const [a, b] = [openSqliteStore(path), openSqliteStore(path)];
    try {
      const ids = await addTasks(a, 200);
      assertClaimedOnce(await claimConcurrently([a, b], 20), ids);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('claims each task exactly once across processes', { timeout: 60_000 }, async () => {
    const path = newDbPath();
    const store = openSqliteStore(path);
    const ids = await addTasks(store, 2_000);
    await store.close();
    const workers = await Promise.all(['p1', 'p2'].map((runner) => startWorker(path, runner)));
    for (const worker of workers) worker.go();
    const claimed = await Promise.all(workers.map((w) => w.result));
    assertClaimedOnce(claimed.flat(), ids);
  });

  it(
    'never runs more tasks of a concurrency key than its limit across processes',
    {
      timeout: 60_000,
    },
    async () => {
      const path = newDbPath();
      const store = openSqliteStore(path);
      const plain: string[] = [];
      const keyed: string[] = [];
      for (let i = 0; i < 600; i++) {
        const concurrency = i % 3 === 0 ? { key: 'deploy', limit: 2 } : undefined;
        const [id] = await addTasks(store, 1, concurrency ? { concurrency } : {});
        (concurrency ? keyed : plain).push(id!);
      }
      await store.close();
      // Batches of 8 hold several keyed candidates, so the limit is tested within a batch too.
      const workers = await Promise.all(['p1', 'p2'].map((r) => startWorker(path, r, 8)));
      for (const worker of workers) worker.go();
      const claimed = (await Promise.all(workers.map((w) => w.result))).flat();
      assert.equal(new Set(claimed).size, claimed.length, 'a task was claimed twice');
      assert.equal(claimed.filter((id) => keyed.includes(id)).length, 2);
      assert.deepEqual(claimed.filter((id) => plain.includes(id)).sort(), [...plain].sort());
    },
  );

  it('works in memory', async () => {
    const store = openSqliteStore(':memory:');
    const { task } = await store.createTask(newTask(), T0);
    assert.deepEqual(await store.getTask(task.id), task);
    await store.close();
  });

  it('records the schema version, and opening again changes nothing', async () => {
    const path = newDbPath();
    await openSqliteStore(path).close();
    await openSqliteStore(path).close();
    const db = new Database(path);
    assert.equal(readSchemaVersion(db), MIGRATIONS.length);
    db.close();
  });

  it('upgrades a database of schema 14: tasks and events are found through the rebuilt indexes', async () => {
    const path = newDbPath();
    const old = new Database(path);
    for (const sql of MIGRATIONS.slice(0, 14)) old.exec(sql);
    old.pragma('user_version = 14');
    const insertTask = old.prepare(`INSERT INTO tasks (id, kind, spec, state, priority, run_at,
        timeout_ms, max_attempts, origin, legacy_compatible, created_at, updated_at)
      VALUES (?, 'shell', '{"command":"true"}', ?, 0, ?, 1000, 1, 'v1', 1, ?, ?)`);
    const states = ['queued', 'running', 'failed', 'succeeded', 'queued'] as const;
    states.forEach((state, i) => insertTask.run(`t${i}`, state, T0, T0 + i, T0 + i));
    const insertEvent = old.prepare('INSERT INTO events (type, at, task_id) VALUES (?, ?, ?)');
    insertEvent.run('task.created', T0, 't0');
    insertEvent.run('runner.online', T0, null);
    old.close();
    const store = openSqliteStore(path);
    await store.migrate();
    const ids = async (state: (typeof states)[number]) =>
      (await store.listTasks({ state, limit: 10 })).tasks.map((t) => t.id);
    assert.deepEqual(await ids('queued'), ['t4', 't0']);
    assert.deepEqual(await ids('running'), ['t1']);
    assert.deepEqual(await ids('failed'), ['t2']);
    assert.deepEqual(await ids('succeeded'), ['t3']);
    const online = await store.listEvents({ type: 'runner.online', limit: 10 });
    assert.deepEqual(
      online.map((e) => e.type),
      ['runner.online'],
    );
    await store.close();
    const db = new Database(path);
    assert.equal(readSchemaVersion(db), MIGRATIONS.length);
    db.close();
  });

  it('refuses a database written by a newer Outpost', () => {
    const path = newDbPath();
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    assert.throws(() => openSqliteStore(path), /newer than this Outpost/);
  });

  it('lists and ends once an attempt whose start row an earlier version wrote', async () => {
    const path = newDbPath();
    const store = openSqliteStore(path);
    await store.createTask(newTask(), T0);
    const claim = await claimOne(store, { instanceId: 'i1' });
    const taskId = claim.task.id;
    // Before attempt rows waited for the end, the claim wrote a start row like this one.
    const db = new Database(path);
    db.prepare(
      `INSERT INTO attempts (task_id, attempt, runner, instance_id, started_at) VALUES (?, 1, 'r1', 'i1', ?)`,
    ).run(taskId, T0);
    db.close();
    const running = { attempt: 1, runner: 'r1', instanceId: 'i1', startedAt: T0 };
    assert.deepEqual(await store.listAttempts(taskId), [running]);
    const { leaseToken } = claim;
    await store.finishAttempt({ taskId, leaseToken, outcome: SUCCEEDED, now: T0 + 5 });
    const ended = { ...running, endedAt: T0 + 5, status: 'succeeded' };
    assert.deepEqual(await store.listAttempts(taskId), [ended]);
    await store.close();
  });

  it('leases, in their own transaction, tasks created in the turn a claim is made', async () => {
    const store = openSqliteStore(newDbPath());
    const first = newTask();
    const second = newTask();
    // The claim goes between the creates: creates run first in the batch, and the claim skips the
    // read of committed tasks (which would find none) while a create waits.
    const created = [store.createTask(first, T0)];
    const claim = store.claimTasks(claimRequest({ max: 5 }));
    created.push(store.createTask(second, T0));
    const claimed = await claim;
    assert.deepEqual(
      claimed.map((c) => c.task.id),
      [first.id, second.id],
    );
    assert.deepEqual(
      (await Promise.all(created)).map((r) => r.task.state),
      ['queued', 'queued'],
      'each create answers with the task as it stored it',
    );
    assert.equal((await store.getTask(second.id))?.state, 'running');
    await store.close();
  });

  it('fails ping once closed', async () => {
    const store = openSqliteStore(':memory:');
    await store.close();
    await assert.rejects(store.ping());
  });
});
