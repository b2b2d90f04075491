// The SQLite store under the queue-bound mix, in process: each write batch (one commit, as the
// server's write-batch.ts makes them) holds K creates, the claim that leases them, the
// acknowledgements of the previous batch's tasks and the finishes of the batch before that.
// Prints CPU per task, the time of each statement per task, and which B-trees each commit writes
// to the WAL. Explains the "SQLite write batch" share of a queue-bound server's profile.
// Usage: tsx bench/store-mix.ts [--tasks-per-commit 4] [--batches 4000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { newId } from '../src/lib/ids.ts';
import type { LeaseRef } from '../src/protocol/runner.ts';
import { fmtInt, renderTable } from './stats.ts';
import { walPagesByTree } from './wal-pages.ts';
import { selfCpuMs } from './processes.ts';

const { values: flags } = parseArgs({
  options: {
    'tasks-per-commit': { type: 'string', default: '4' },
    batches: { type: 'string', default: '4000' },
  },
});
const K = Number(flags['tasks-per-commit']);
const BATCHES = Number(flags.batches);

/** Wall time and calls per statement text, while `on` (better-sqlite3's Statement methods wrapped). */
const statementTimes = new Map<string, { calls: number; ms: number }>();
let timing = false;
function timeStatements(): void {
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  for (const method of ['run', 'get', 'all']) {
    const original = proto[method] as (...args: unknown[]) => unknown;
    proto[method] = function (this: Database.Statement, ...args: unknown[]) {
      if (!timing) return original.apply(this, args);
      const t0 = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        const key = this.source.replace(/\s+/g, ' ').slice(0, 70);
        const entry = statementTimes.get(key) ?? { calls: 0, ms: 0 };
        entry.calls++;
        entry.ms += performance.now() - t0;
        statementTimes.set(key, entry);
      }
    };
  }
}

let toAck: LeaseRef[] = [];
let toFinish: LeaseRef[] = [];

/** One batch of the mix: every call is submitted in the same turn, so all commit together. */
async function batch(store: SqliteStore): Promise<void> {
  const now = Date.now();
  // createTasks, as the server's task service creates (one task per request here).
  const creates = Array.from({ length: K }, () =>
    store.createTasks(
      [
        {
          id: newId(),
          kind: 'file.read',
          spec: { path: '/tmp/tiny.txt' },
          priority: 0,
          runAt: now,
          timeoutMs: 30_000,
          maxAttempts: 1,
          retryOnFailure: false,
          origin: 'v1',
          legacyCompatible: true,
        },
      ],
      now,
    ),
  );
  const claim = store.claimTasks({
    runner: 'r',
    kinds: ['file.read'],
    max: 16,
    leaseMs: 30_000,
    now,
  });
  const acks = toAck.length > 0 ? store.extendLeases('r', toAck, 30_000, now) : undefined;
  const outcome = { status: 'succeeded' as const, result: { content: 'hello outpost\n' } };
  const finishes = store.finishAttempts(
    toFinish.map((ref) => ({ ...ref, outcome, now, runner: 'r' })),
  );
  await Promise.all([...creates, acks, finishes]);
  toFinish = toAck;
  toAck = (await claim).map((c) => ({ taskId: c.task.id, leaseToken: c.leaseToken }));
}

async function main(): Promise<void> {
  timeStatements();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-store-mix-'));
  const file = join(dir, 'mix.db');
  const store = openSqliteStore(file);
  try {
    await store.migrate();
    for (let i = 0; i < BATCHES / 4; i++) await batch(store);
    timing = true;
    const cpu0 = selfCpuMs();
    const t0 = performance.now();
    for (let i = 0; i < BATCHES; i++) await batch(store);
    const cpuMs = selfCpuMs() - cpu0;
    const wallMs = performance.now() - t0;
    timing = false;
    const tasks = BATCHES * K;
    console.log(
      `${fmtInt(tasks)} tasks, ${K} per commit: ${((cpuMs * 1000) / tasks).toFixed(1)} µs CPU and ` +
        `${((wallMs * 1000) / tasks).toFixed(1)} µs wall per task (store calls, statements, commits)`,
    );
    const rows = [...statementTimes]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([sql, { calls, ms }]) => [
        sql,
        (calls / tasks).toFixed(2),
        ((ms * 1000) / calls).toFixed(1),
        ((ms * 1000) / tasks).toFixed(1),
      ]);
    console.log(`\n${renderTable(['statement', 'per task', 'µs each', 'µs per task'], rows)}`);
    // A checkpoint restarts the WAL; right after it, the WAL holds only the commits that follow.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (let i = 0; i < 40; i++) await batch(store);
    const commits = walPagesByTree(file).slice(-20);
    const perTree = new Map<string, number>();
    for (const trees of commits) for (const t of trees) perTree.set(t, (perTree.get(t) ?? 0) + 1);
    const byTree = [...perTree]
      .sort((a, b) => b[1] - a[1])
      .map(([tree, n]) => [tree, (n / commits.length).toFixed(1)]);
    const sizes = commits.map((c) => c.length).join(' ');
    console.log(`\npages written per commit (last ${commits.length}): ${sizes}`);
    console.log(renderTable(['B-tree', 'pages per commit'], byTree));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
