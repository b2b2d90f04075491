// Throughput scenarios: 16 clients each looping POST /v1/tasks?wait=30000 against one real runner
// process; queue-bound (`file.read` of a tiny file, no spawn) and spawn-bound (`shell` running `true`).
import { BenchHttp, taskOf } from './http.ts';
import { runClosedLoop, type LoadPlan, type LoadResult } from './load.ts';
import { startCluster, type ClusterOptions } from './cluster.ts';
import { cpuMs, markProfileWindow, rssMiB } from './processes.ts';

export type ThroughputKind = 'queue' | 'spawn';

export interface ThroughputRun extends LoadResult {
  kind: ThroughputKind;
  capacity: number;
  /** Server RSS at the end of the run, MiB (for the record; not a bar). */
  serverRssMiB: number;
}

/** Starts a fresh server + one runner with `capacity`, drives it, and tears it down. */
export async function measureThroughput(
  kind: ThroughputKind,
  capacity: number,
  plan: LoadPlan,
  clusterOpts: ClusterOptions,
): Promise<ThroughputRun> {
  const cluster = await startCluster({
    ...clusterOpts,
    label: `${clusterOpts.label}-${kind}-c${capacity}`,
  });
  try {
    const runner = await cluster.startRunner('bench', capacity);
    const body =
      kind === 'queue'
        ? { kind: 'file.read', spec: { path: cluster.tinyFile } }
        : { kind: 'shell', spec: { command: ['true'] } };
    const http = new BenchHttp({
      baseUrl: cluster.url,
      token: cluster.clientToken,
      maxSockets: plan.concurrency,
    });
    try {
      const once = async (): Promise<void> => {
        const task = taskOf(await http.ok('POST', '/v1/tasks?wait=30000', body));
        if (task.state !== 'succeeded') throw new Error(`task ${task.id} ended ${task.state}`);
      };
      const result = await runClosedLoop(plan, once, {
        server: () => cpuMs(cluster.server.pid),
        runner: () => cpuMs(runner.pid),
        // Task processes the runner spawned and reaped (cutime + cstime of the runner).
        tasks: () => cpuMs(runner.pid, true),
      });
      for (const d of [cluster.server, runner]) {
        markProfileWindow(d, kind, result.windowStart, result.windowEnd);
      }
      return { ...result, kind, capacity, serverRssMiB: rssMiB(cluster.server.pid) };
    } finally {
      http.close();
    }
  } finally {
    await cluster.close();
  }
}
