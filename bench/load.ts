// Closed-loop load: N concurrent loops each repeat one request for warm-up + a fixed window;
// only requests that complete inside the window are counted. Also samples CPU counters over it.
// The warm-up can be counted in requests as well as in time: V8 compiles a function with its
// optimising compiler once it has run enough, so a warm-up of fixed time ends at a different point
// of that on a slow machine than on a fast one (a server's compiler threads were still busy with a
// fifth of a core 6 s into the run on a slow one; docs/benchmarks.md).
import { performance } from 'node:perf_hooks';
import { selfCpuMs } from './processes.ts';

/** CPU counters by label, each returning ms used so far (e.g. () => cpuMs(pid)). */
export type CpuCounters = Record<string, () => number | Promise<number>>;

export interface LoadPlan {
  concurrency: number;
  /** Shortest warm-up. */
  warmupMs: number;
  /** Requests the warm-up must also complete, unless `maxWarmupMs` passes first. */
  warmupRequests?: number;
  /** Longest warm-up when `warmupRequests` is set. */
  maxWarmupMs?: number;
  durationMs: number;
}

export interface LoadResult {
  /** Requests completed inside the measured window. */
  completed: number;
  errors: number;
  firstError?: string;
  /** Requests completed during the warm-up, and how long it took (ms). */
  warmup: { requests: number; ms: number };
  /** performance.now() at the start and end of the measured window. */
  windowStart: number;
  windowEnd: number;
  /** Seconds actually measured. */
  seconds: number;
  perSecond: number;
  /** Latency of each request completed in the window, ms. */
  latencies: number[];
  /** CPU used during the window, as % of one core, by label. */
  cpuPercent: Record<string, number>;
}

/**
 * Runs `once` in `plan.concurrency` loops (it is told which loop: 0 … concurrency − 1). `once`
 * must resolve when its request is done and throw on a wrong result. `cpu` counters are read at
 * the start and end of the window.
 */
export async function runClosedLoop(
  plan: LoadPlan,
  once: (loop: number) => Promise<void>,
  cpu: CpuCounters,
): Promise<LoadResult> {
  const start = performance.now();
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let warmed = 0;
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const latencies: number[] = [];
  const warmupDone = warmUp(plan, start, () => warmed);

  const loop = async (index: number): Promise<void> => {
    while (performance.now() < windowEnd) {
      const t0 = performance.now();
      try {
        await once(index);
        const t1 = performance.now();
        if (t1 < windowStart) warmed += 1;
        else if (t1 <= windowEnd) {
          completed += 1;
          latencies.push(t1 - t0);
        }
      } catch (err) {
        errors += 1;
        firstError ??= err instanceof Error ? err.message : String(err);
        if (errors > 100) throw new Error(`too many errors; first: ${firstError}`);
      }
    }
  };

  const loops = Promise.all(Array.from({ length: plan.concurrency }, (_, i) => loop(i)));
  const sampled = warmupDone.then((at) => {
    windowStart = at;
    windowEnd = at + plan.durationMs;
    return sampleCpuAt(windowStart, windowEnd, cpu);
  });
  await loops;
  const cpuPercent = await sampled;
  const seconds = plan.durationMs / 1000;
  return {
    completed,
    errors,
    firstError,
    warmup: { requests: warmed, ms: windowStart - start },
    windowStart,
    windowEnd,
    seconds,
    perSecond: completed / seconds,
    latencies,
    cpuPercent,
  };
}

/** Resolves with the time the warm-up ends: `warmupMs` passed and `warmupRequests` completed. */
async function warmUp(plan: LoadPlan, start: number, warmed: () => number): Promise<number> {
  await sleepUntil(start + plan.warmupMs);
  const target = plan.warmupRequests ?? 0;
  const deadline = start + Math.max(plan.warmupMs, plan.maxWarmupMs ?? 0);
  while (warmed() < target && performance.now() < deadline)
    await sleepUntil(performance.now() + 50);
  return performance.now();
}

/** Reads each CPU counter (and this process's, as `bench`) at `from` and `to`; % of one core. */
async function sampleCpuAt(
  from: number,
  to: number,
  cpu: CpuCounters,
): Promise<Record<string, number>> {
  const read = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = { bench: selfCpuMs() };
    for (const [label, readCpu] of Object.entries(cpu)) out[label] = await readCpu();
    return out;
  };
  await sleepUntil(from);
  const before = await read();
  const t0 = performance.now();
  await sleepUntil(to);
  const after = await read();
  const elapsed = performance.now() - t0;
  const percent: Record<string, number> = {};
  for (const label of Object.keys(after)) {
    percent[label] = (((after[label] ?? 0) - (before[label] ?? 0)) / elapsed) * 100;
  }
  return percent;
}

/** Timers keep whole milliseconds of a cached loop clock and can fire a little early; loop. */
async function sleepUntil(at: number): Promise<void> {
  while (performance.now() < at) {
    const ms = Math.max(1, Math.ceil(at - performance.now()));
    await new Promise((r) => setTimeout(r, ms));
  }
}
