// Throughput scenarios: 16 clients each looping POST /v1/tasks?wait=30000; queue-bound (`file.read`
// of a tiny file, no spawn) and spawn-bound (`shell` running `true`). One server and one runner
// process; with two replicas, one runner process on each and the clients split evenly over them.
import { BenchHttp, taskOf } from './http.ts';
import { runClosedLoop, type CpuCounters, type LoadPlan, type LoadResult } from './load.ts';
import { startCluster, type ClusterOptions } from './cluster.ts';
import {
  childPids,
  cpuMs,
  cpuMsIfAlive,
  markProfileWindow,
  rssMiB,
  threadCpuMs,
} from './processes.ts';

export type ThroughputKind = 'queue' | 'spawn';

export interface ThroughputRun extends LoadResult {
  kind: ThroughputKind;
  /** Capacity of each runner process. */
  capacity: number;
  /** Server RSS at the end of the run, MiB (replica A's with two; for the record, not a bar). */
  serverRssMiB: number;
}

/**
 * Starts a fresh cluster (`clusterOpts.replicas` servers) with one runner of `capacity` per
 * replica, drives it, and tears it down. Client loop i submits to replica i mod replicas; a task
 * may be claimed by the runner on either replica.
 */
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
  const replicas = cluster.servers.length;
  const clients = cluster.servers.map(
    (s) =>
      new BenchHttp({
        baseUrl: s.ready,
        token: cluster.clientToken,
        maxSockets: Math.ceil(plan.concurrency / replicas),
      }),
  );
  try {
    const runners = [];
    for (let i = 0; i < replicas; i++) {
      runners.push(await cluster.startRunner(replicas > 1 ? `bench-${i}` : 'bench', capacity, i));
    }
    const body =
      kind === 'queue'
        ? { kind: 'file.read', spec: { path: cluster.tinyFile } }
        : { kind: 'shell', spec: { command: ['true'] } };
    const once = async (loop: number): Promise<void> => {
      const http = clients[loop % replicas];
      if (!http) throw new Error(`no client for loop ${loop}`);
      const task = taskOf(await http.ok('POST', '/v1/tasks?wait=30000', body));
      if (task.state !== 'succeeded') throw new Error(`task ${task.id} ended ${task.state}`);
    };
    const sum =
      (pids: number[], children = false) =>
      (): number =>
        pids.reduce((acc, pid) => acc + cpuMs(pid, children), 0);
    const runnerPids = runners.map((r) => r.pid);
    const serverPids = cluster.servers.map((s) => s.pid);
    const helperCpu = (children: boolean) => (): number =>
      runnerPids.flatMap(childPids).reduce((acc, pid) => acc + cpuMsIfAlive(pid, children), 0);
    const counters: CpuCounters = {
      server: sum(cluster.servers.map((s) => s.pid)),
      'server main thread': () => serverPids.reduce((acc, pid) => acc + threadCpuMs(pid), 0),
      runner: sum(runnerPids),
      // The runners' spawn helpers, which fork the task processes (src/runner/spawn-pool.ts).
      helpers: helperCpu(false),
      // Task processes, reaped by the helpers (or by a runner that forked them itself).
      tasks: () => sum(runnerPids, true)() + helperCpu(true)(),
    };
    const schema = cluster.schema;
    if (schema) counters.postgres = () => schema.cpuMs();
    const result = await runClosedLoop(plan, once, counters);
    for (const d of [...cluster.servers, ...runners]) {
      markProfileWindow(d, kind, result.windowStart, result.windowEnd);
    }
    return { ...result, kind, capacity, serverRssMiB: rssMiB(cluster.server.pid) };
  } finally {
    for (const c of clients) c.close();
    await cluster.close();
  }
}
