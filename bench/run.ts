// `npm run bench`: latency, throughput and idle-connection benchmarks against the real `outpost serve`
// and `outpost runner` processes on loopback, printed next to the bars of the speed spec; pickup,
// e2e and throughput also on PostgreSQL (one and two replicas), side by side with SQLite.
// Flags: --quick, --capacity N, --sweep, --only a,b, --backend a,b, --profile DIR, --bin FILE,
// --node-arg FLAG.
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackends, redactUrl, setupName, setupsFor } from './backend.ts';
import { calibrate } from './calibrate.ts';
import type { ClusterOptions } from './cluster.ts';
import { backendTable } from './compare.ts';
import { measureIdle } from './idle.ts';
import { measureOutput } from './output.ts';
import { describeMachine } from './processes.ts';
import * as report from './report.ts';
import { runCore, type CoreResults } from './scenarios.ts';
import { summarize } from './stats.ts';

const SCENARIOS = ['calib', 'pickup', 'e2e', 'queue', 'spawn', 'idle', 'output'] as const;
type Scenario = (typeof SCENARIOS)[number];

const USAGE = `npm run bench -- [options]
  --quick            short run (fewer samples, 2 s throughput windows)
  --only a,b         scenarios: ${SCENARIOS.join(', ')}
  --backend a,b      sqlite, postgres (default: both when OUTPOST_BENCH_DATABASE_URL or
                     TEST_DATABASE_URL names a database, else sqlite); postgres runs pickup, e2e,
                     queue and spawn with one server and with two replicas, each on a throwaway schema
  --capacity N       runner capacity for the throughput runs (default 16)
  --sweep            try capacities 8, 16, 32, 64 and keep the best
  --profile DIR      write V8 CPU profiles of every server and runner (read with bench/profile.ts)
  --bin FILE         entry script instead of bin/outpost.js (e.g. a pre-built bundle)
  --node-arg FLAG    node flag for the server and runner processes (repeatable)`;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    capacity: { type: 'string' },
    sweep: { type: 'boolean', default: false },
    only: { type: 'string' },
    backend: { type: 'string' },
    profile: { type: 'string' },
    bin: { type: 'string' },
    'node-arg': { type: 'string', multiple: true },
    help: { type: 'boolean', default: false },
  },
});

const quick = flags.quick === true;
const only = new Set<Scenario>(
  flags.only ? flags.only.split(',').map((s) => parseScenario(s.trim())) : SCENARIOS,
);
/**
 * 16 = one slot per client. Two sweeps (docs/benchmarks-history.md) put 16, 32 and 64 within the
 * noise of each other and 8 clearly lower, so the default is the smallest on that plateau.
 */
const capacities = flags.sweep ? [8, 16, 32, 64] : [Number(flags.capacity ?? 16)];
/**
 * Warm-ups are counted in requests (up to a time limit), not only in time: until V8 has compiled
 * the hot path with its optimising compiler, a run measures the compiler as much as Outpost. A
 * server does that once after it starts, then runs for days (docs/benchmarks.md, "Warm-up").
 */
const latencyPlan = quick
  ? { warmup: 100, samples: 60, gapMs: 10 }
  : { warmup: 1_000, samples: 300, gapMs: 10 };
const loadPlan = quick
  ? { concurrency: 16, warmupMs: 500, durationMs: 2_000 }
  : {
      concurrency: 16,
      warmupMs: 1_000,
      warmupRequests: 8_000,
      maxWarmupMs: 15_000,
      durationMs: 5_000,
    };
const idlePlan = { polls: 1_000, idleMs: quick ? 2_000 : 3_000 };
/** 1 GiB of ~100-byte lines; 200 timestamp lines 50 ms apart (10 s). */
const outputPlan = quick ? { bytes: 256 * 2 ** 20, lines: 60 } : { bytes: 2 ** 30, lines: 200 };

function parseScenario(s: string): Scenario {
  if ((SCENARIOS as readonly string[]).includes(s)) return s as Scenario;
  throw new Error(`--only: unknown scenario '${s}'; one of ${SCENARIOS.join(', ')}`);
}

function clusterOptions(): ClusterOptions {
  const base: ClusterOptions = {
    label: 'run',
    bin: flags.bin ? resolve(flags.bin) : undefined,
    nodeArgs: flags['node-arg'],
  };
  if (!flags.profile) return base;
  const dir = resolve(flags.profile);
  mkdirSync(dir, { recursive: true });
  return { ...base, profileDir: dir };
}

async function main(): Promise<void> {
  if (flags.help) return void console.log(USAGE);
  const started = Date.now();
  const m = describeMachine();
  const args = process.argv.slice(2);
  log(`machine: ${m.nproc} CPUs, ${m.model}, node ${m.node}, ${m.os}`);
  log(`command: npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`);
  const choice = chooseBackends(flags.backend, process.env);
  log(
    `stores: ${choice.backends.join(', ')}; server and runner are real child processes (${flags.bin ?? 'bin/outpost.js'}), log level warn`,
  );
  log('SQLite: WAL, synchronous=NORMAL, in a temp dir; calib, idle and output run on SQLite only');
  if (choice.url) {
    log(
      `PostgreSQL: ${redactUrl(choice.url)}, a fresh schema bench_<random> per cluster (dropped after); one server, then two replicas`,
    );
  } else if (choice.reason) {
    log(`PostgreSQL left out: ${choice.reason}`);
  }
  log(`load average ${loadAverage()}`);
  const opts = clusterOptions();
  const rows: report.Row[] = [];
  const notes: string[] = [];
  let calibration = '';
  let spawnCeiling: number | undefined;

  if (only.has('calib')) {
    log('calibration: a bare node:http server, same client, same idle gap');
    const c = await calibrate(latencyPlan.gapMs, quick ? 60 : 150, {
      concurrency: loadPlan.concurrency,
      durationMs: 2_000,
      warmupMs: 500,
    });
    calibration = report.calibrationTable(c, latencyPlan.gapMs);
    spawnCeiling = c.spawnPerSecond;
  }

  const plan = {
    pickup: only.has('pickup'),
    e2e: only.has('e2e'),
    throughput: (['queue', 'spawn'] as const).filter((k) => only.has(k)),
    latency: latencyPlan,
    load: loadPlan,
    capacities,
  };
  const core: CoreResults[] = [];
  if (plan.pickup || plan.e2e || plan.throughput.length > 0) {
    for (const setup of setupsFor(choice))
      core.push(await runCore(setup, plan, { ...opts, postgresUrl: choice.url }, log));
  }
  // The bars are read on the first setup (SQLite unless --backend left it out).
  const [first] = core;
  if (first) {
    const prefix = first.setup.backend === 'sqlite' ? '' : `${setupName(first.setup)}: `;
    if (first.pickupRaw) {
      notes.push(
        `${prefix}pickup, raw node:http probe (server + wire, no SDK): ${report.latencyText(first.pickupRaw)}`,
      );
    }
    if (first.pickup) rows.push(report.pickupRow(first.pickup));
    if (first.e2e) rows.push(report.endToEndRow(first.e2e));
    for (const best of [first.throughput.queue, first.throughput.spawn]) {
      if (!best) continue;
      rows.push(report.throughputRow(best, spawnCeiling));
      const hostNote = report.spawnHostNote(best, spawnCeiling);
      if (hostNote !== undefined) notes.push(`${prefix}${hostNote}`);
      notes.push(
        `${prefix}${best.kind}: latency under load ${report.latencyText(summarize(best.latencies))}`,
      );
      notes.push(
        `${prefix}${best.kind}: CPU (% of one core) ${report.cpuText(best.cpuPercent)}; per task ${report.perTaskText(best)}; server RSS ${best.serverRssMiB.toFixed(0)} MiB`,
      );
    }
  }

  if (only.has('idle')) {
    log(`idle: ${idlePlan.polls} long polls, each on its own keep-alive connection`);
    for (const r of await measureIdle(idlePlan, opts)) rows.push(report.idleRow(r));
  }

  if (only.has('output')) {
    const mib = outputPlan.bytes / 2 ** 20;
    log(
      `output: ${outputPlan.lines} timestamp lines 50 ms apart, then ${mib} MiB of 100-byte lines`,
    );
    const r = await measureOutput(outputPlan, opts);
    rows.push(report.lineLatencyRow('logs long poll', r.latency.logs, r.latency.printed));
    rows.push(report.lineLatencyRow('SSE', r.latency.sse, r.latency.printed));
    rows.push(report.outputRssRow(r.bulk));
    notes.push(...report.outputNotes(r));
  }

  if (rows.length > 0) console.log(`\n${report.barsTable(rows)}`);
  if (core.length > 1) console.log(`\n${backendTable(core)}`);
  if (calibration) console.log(`\n${calibration}`);
  if (notes.length > 0) console.log(`\n${notes.join('\n')}`);
  const met = rows.filter((r) => r.pass).length;
  const took = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`\n${met}/${rows.length} bars met; took ${took} s; load average ${loadAverage()}`);
}

/** The machine is shared: the 1, 5 and 15 minute load averages say how busy it was. */
function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function log(msg: string): void {
  console.log(`# ${msg}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
