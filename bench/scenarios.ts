// The scenarios that run on every store setup (SQLite; PostgreSQL with one and with two replicas):
// pickup, e2e, queue-bound and spawn-bound throughput. Each setup gets fresh clusters.
import { performance } from 'node:perf_hooks';
import { setupName, type Setup } from './backend.ts';
import { startCluster, type ClusterOptions } from './cluster.ts';
import type { LatencyPlan } from './latency.ts';
import { measureEndToEnd, measurePickup } from './latency.ts';
import type { LoadPlan } from './load.ts';
import { markProfileWindow, type Daemon } from './processes.ts';
import { cpuText } from './report.ts';
import { summarize, type Summary } from './stats.ts';
import { measureThroughput, type ThroughputKind, type ThroughputRun } from './throughput.ts';

export interface CorePlan {
  pickup: boolean;
  e2e: boolean;
  throughput: ThroughputKind[];
  latency: LatencyPlan;
  load: LoadPlan;
  /** Runner capacities to try for throughput; the best run is kept. */
  capacities: number[];
}

export interface CoreResults {
  setup: Setup;
  pickup?: Summary;
  /** The same pickup with a raw node:http probe (server + wire, no SDK). */
  pickupRaw?: Summary;
  e2e?: Summary;
  throughput: Partial<Record<ThroughputKind, ThroughputRun>>;
}

/** Runs the chosen core scenarios on one setup; `log` narrates. */
export async function runCore(
  setup: Setup,
  plan: CorePlan,
  base: ClusterOptions,
  log: (msg: string) => void,
): Promise<CoreResults> {
  const name = setupName(setup);
  const opts: ClusterOptions = { ...base, replicas: setup.replicas };
  if (setup.backend === 'sqlite') delete opts.postgresUrl;
  const out: CoreResults = { setup, throughput: {} };
  const crossing = setup.replicas > 1 ? '; runner on replica A, client on replica B' : '';

  if (plan.pickup || plan.e2e) {
    const cluster = await startCluster({ ...opts, label: `${opts.label}-latency` });
    /** Runs one measured phase and marks it in the CPU profiles' window.json (with --profile). */
    const phase = async <T>(what: string, run: () => Promise<T>, runner?: Daemon): Promise<T> => {
      const start = performance.now();
      const result = await run();
      for (const d of [...cluster.servers, ...(runner ? [runner] : [])]) {
        markProfileWindow(d, what, start, performance.now());
      }
      return result;
    };
    try {
      const n = `${plan.latency.samples} samples after ${plan.latency.warmup} warm-up rounds`;
      if (plan.pickup) {
        log(`${name} pickup: ${n} (probe runner in the bench process${crossing})`);
        const pickup = (t: 'raw' | 'sdk') => () => measurePickup(cluster, plan.latency, t);
        out.pickupRaw = summarize(await phase('pickup-raw', pickup('raw')));
        out.pickup = summarize(await phase('pickup-sdk', pickup('sdk')));
      }
      if (plan.e2e) {
        log(`${name} e2e: ${n} (real runner process, capacity 5${crossing})`);
        const runner = await cluster.startRunner('e2e', 5);
        const e2e = await phase('e2e', () => measureEndToEnd(cluster, plan.latency), runner);
        out.e2e = summarize(e2e);
      }
    } finally {
      await cluster.close();
    }
  }

  for (const kind of plan.throughput) {
    const runs: ThroughputRun[] = [];
    for (const capacity of plan.capacities) {
      const { concurrency, durationMs } = plan.load;
      const per = setup.replicas > 1 ? ` per runner, one runner per replica` : '';
      log(
        `${name} ${kind}: capacity ${capacity}${per}, ${concurrency} clients, warm-up ${warmupText(plan.load)}, then ${durationMs} ms`,
      );
      const run = await measureThroughput(kind, capacity, plan.load, opts);
      log(
        `  warm-up ${run.warmup.requests} tasks in ${Math.round(run.warmup.ms)} ms; ${Math.round(run.perSecond)} tasks/s, ${run.errors} errors; CPU ${cpuText(run.cpuPercent)}`,
      );
      if (run.firstError) log(`  first error: ${run.firstError}`);
      runs.push(run);
    }
    out.throughput[kind] = runs.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  }
  return out;
}

/** "≥ 1000 ms and 8000 tasks (at most 15000 ms)", or just "1000 ms". */
function warmupText(load: LoadPlan): string {
  if (load.warmupRequests === undefined) return `${load.warmupMs} ms`;
  const limit = load.maxWarmupMs === undefined ? '' : ` (at most ${load.maxWarmupMs} ms)`;
  return `≥ ${load.warmupMs} ms and ${load.warmupRequests} tasks${limit}`;
}
