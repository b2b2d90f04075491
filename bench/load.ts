// Closed-loop load: N concurrent loops each repeat one request for warm-up + a fixed window;
// only requests that complete inside the window are counted. Also samples CPU counters over it.
import { performance } from 'node:perf_hooks';
import { selfCpuMs } from './processes.ts';

/** CPU counters by label, each returning ms used so far (e.g. () => cpuMs(pid)). */
export type CpuCounters = Record<string, () => number | Promise<number>>;

export interface LoadPlan {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export interface LoadResult {
  /** Requests completed inside the measured window. */
  completed: number;
  errors: number;
  firstError?: string;
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
  const windowStart = start + plan.warmupMs;
  const windowEnd = windowStart + plan.durationMs;
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const latencies: number[] = [];

  const loop = async (index: number): Promise<void> => {
    while (performance.now() < windowEnd) {
      const t0 = performance.now();
      try {
        await once(index);
        const t1 = performance.now();
        if (t1 >= windowStart && t1 <= windowEnd) {
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

  const sampled = sampleCpuAt(windowStart, windowEnd, cpu);
  await Promise.all(Array.from({ length: plan.concurrency }, (_, i) => loop(i)));
  const cpuPercent = await sampled;
  const seconds = plan.durationMs / 1000;
  return {
    completed,
    errors,
    firstError,
    windowStart,
    windowEnd,
    seconds,
    perSecond: completed / seconds,
    latencies,
    cpuPercent,
  };
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

function sleepUntil(at: number): Promise<void> {
  const ms = Math.max(0, at - performance.now());
  return new Promise((r) => setTimeout(r, ms));
}
