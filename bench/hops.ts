// Per-hop costs, in process: each SQLite store call of a task's life, the runner's file.read and
// spawn of `true`, and the machine calibration of bench/calibrate.ts (bare node:http, fetch).
// Usage: tsx bench/hops.ts — explains the end-to-end numbers of bench/run.ts (see docs/benchmarks.md).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { newId } from '../src/lib/ids.ts';
import { executeTask } from '../src/runner/executors/index.ts';
import { resolveInRoots } from '../src/runner/roots.ts';
import { defaultAgentSettings } from '../src/runner/agent-config.ts';
import type { ExecContext } from '../src/runner/executors/types.ts';
import type { NewTask } from '../src/store/types.ts';
import { calibrate } from './calibrate.ts';
import { cpuMs, selfCpuMs } from './processes.ts';
import { calibrationTable } from './report.ts';
import { fmtInt, renderTable, summarize } from './stats.ts';

const rows: string[][] = [];

/** Runs `fn` n times after n/10 warm-up runs; records wall µs p50 and mean CPU µs per call. */
async function hop(name: string, n: number, fn: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < Math.ceil(n / 10); i++) await fn(-1 - i);
  const times: number[] = [];
  const cpu0 = selfCpuMs();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    times.push((performance.now() - t0) * 1000);
  }
  const cpuUs = ((selfCpuMs() - cpu0) * 1000) / n;
  const s = summarize(times);
  rows.push([name, fmtInt(s.p50), fmtInt(s.p99), fmtInt(cpuUs)]);
}

async function storeHops(dir: string): Promise<void> {
  const store = openSqliteStore(join(dir, 'hops.db'));
  await store.migrate();
  const now = Date.now();
  const hash = createHash('sha256').update('secret').digest('hex');
  await store.createToken({ id: newId(), name: 'c', role: 'client', hash }, now);
  const task = (): NewTask => ({
    id: newId(),
    kind: 'file.read',
    spec: { path: '/tmp/x' },
    priority: 0,
    runAt: Date.now(),
    timeoutMs: 30_000,
    maxAttempts: 1,
    retryOnFailure: false,
    origin: 'v1',
    legacyCompatible: true,
  });
  const n = 2_000;
  const ids: string[] = [];
  await hop('store.findToken (auth, every request)', n, () => store.findToken(hash, Date.now()));
  await hop('store.createTask (insert tx)', n, async (i) => {
    const { task: t } = await store.createTask(task(), Date.now());
    if (i >= 0) ids.push(t.id);
  });
  const leases: { taskId: string; leaseToken: string }[] = [];
  await hop('store.claimTasks max 1 (claim tx)', n, async (i) => {
    const claims = await store.claimTasks({
      runner: 'r',
      kinds: ['file.read'],
      max: 1,
      leaseMs: 30_000,
      now: Date.now(),
    });
    if (i >= 0)
      for (const c of claims) leases.push({ taskId: c.task.id, leaseToken: c.leaseToken });
  });
  await hop('store.finishAttempt (finish tx)', n, async (i) => {
    const lease = i >= 0 ? leases[i] : undefined;
    if (lease)
      await store.finishAttempt({
        ...lease,
        outcome: { status: 'succeeded', exitCode: 0 },
        now: Date.now(),
      });
  });
  await hop('store.getTask (read for the waiting client)', n, (i) =>
    store.getTask(ids[Math.max(0, i)] ?? ''),
  );
  await store.close();
}

async function runnerHops(dir: string): Promise<void> {
  const roots = join(dir, 'roots');
  mkdirSync(roots, { recursive: true });
  mkdirSync(join(dir, 'runner-data'), { recursive: true });
  const file = join(roots, 'tiny.txt');
  writeFileSync(file, 'hello outpost\n');
  const settings = {
    roots: [roots],
    deniedPaths: [join(dir, 'runner-data')],
    shell: ['/bin/sh', '-c'],
    envAllowlist: ['PATH', 'HOME'],
    maxOutputBytes: 1 << 20,
    maxReadBytes: 10 << 20,
    killGraceMs: 5_000,
    agents: defaultAgentSettings(['PATH', 'HOME']),
  };
  const ctx = (): ExecContext => ({
    taskId: newId(),
    attempt: 1,
    timeoutMs: 30_000,
    signal: new AbortController().signal,
    settings,
  });
  await hop('runner resolveInRoots (3 realpath calls)', 1_000, () =>
    resolveInRoots(file, settings),
  );
  await hop('runner file.read executor (tiny file)', 1_000, () =>
    executeTask('file.read', { path: file }, ctx()),
  );
  await hop('runner shell `true` executor (spawn+exit)', 200, () =>
    executeTask('shell', { command: ['true'] }, ctx()),
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-hops-'));
  try {
    const cpu0 = cpuMs(process.pid);
    await storeHops(dir);
    await runnerHops(dir);
    console.log(renderTable(['hop (in process)', 'p50 µs', 'p99 µs', 'CPU µs/op'], rows));
    const c = await calibrate(10, 150, { concurrency: 16, warmupMs: 500, durationMs: 2_000 });
    console.log(`\n${calibrationTable(c, 10)}`);
    console.log(`\n(hops used ${fmtInt(cpuMs(process.pid) - cpu0)} ms CPU in all)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
