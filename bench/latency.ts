// Latency scenarios: pickup (submit → an idle probe runner's claim reply, same process clock) and
// end-to-end (POST /v1/tasks?wait → result of `true`, through a real runner process). With two
// replicas the runner polls replica A and the client submits to replica B (cluster.clientUrl).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { OutpostClient } from '../src/sdk/client.ts';
import { nodeTransport } from '../src/runner/node-transport.ts';
import { BenchHttp, field, taskOf } from './http.ts';
import { longPolls, waitForLongPolls, type Cluster } from './cluster.ts';

export interface LatencyPlan {
  /** Rounds run first and not counted, back to back (no gap): they warm V8's compiler up. */
  warmup: number;
  samples: number;
  /** Idle time before each sample, so the runner's long poll is parked on the server. */
  gapMs: number;
}

const TRUE_TASK = { kind: 'shell', spec: { command: ['true'] } } as const;

/**
 * How the probe runner talks to the server: the SDK on the runner's own transport (as the runner
 * does), or raw node:http.
 */
export type ProbeTransport = 'sdk' | 'raw';

interface Probe {
  /** One claim long poll for at most one task; resolves with what it got. */
  claim(): Promise<{ taskId: string; leaseToken: string } | undefined>;
  finish(taskId: string, leaseToken: string): Promise<void>;
  close(): void;
}

async function openProbe(cluster: Cluster, transport: ProbeTransport): Promise<Probe> {
  const name = `probe-${transport}`;
  const token = await cluster.runnerToken(name);
  const instanceId = `${name}-${process.pid}`;
  const claimBody = { runner: name, instanceId, max: 1, waitMs: 30_000 };
  const outcome = { status: 'succeeded', exitCode: 0 } as const;
  const hello = { name, instanceId, capacity: 1, kinds: ['shell' as const], version: 'bench' };
  if (transport === 'sdk') {
    const sdk = new OutpostClient({ baseUrl: cluster.url, token, fetch: nodeTransport });
    await sdk.hello(hello);
    return {
      claim: async () => {
        const got = (await sdk.claimTasks(claimBody)).tasks[0];
        return got && { taskId: got.task.id, leaseToken: got.leaseToken };
      },
      finish: async (taskId, leaseToken) => {
        await sdk.finishAttempt({ taskId, leaseToken, outcome });
      },
      close: () => undefined,
    };
  }
  const raw = new BenchHttp({ baseUrl: cluster.url, token, maxSockets: 2 });
  await raw.ok('POST', '/v1/runner/hello', hello);
  return {
    claim: async () => {
      const tasks = field(await raw.ok('POST', '/v1/runner/claim', claimBody), 'tasks');
      const got: unknown = Array.isArray(tasks) ? tasks[0] : undefined;
      const leaseToken = field(got, 'leaseToken');
      if (typeof leaseToken !== 'string') return undefined;
      return { taskId: taskOf(field(got, 'task')).id, leaseToken };
    },
    finish: async (taskId, leaseToken) => {
      await raw.ok('POST', '/v1/runner/finish', { taskId, leaseToken, outcome });
    },
    close: () => raw.close(),
  };
}

/**
 * Submit → runner has the task. A probe runner in this process keeps one claim long poll open
 * (max 1, waitMs 30 s); the clock starts just before POST /v1/tasks and stops when the claim
 * reply is parsed (with two replicas: submitted to B, claimed on A). Each claimed task is then
 * finished (outside the timing) so no lease expires and comes back. `sdk` parses and validates the reply as the real runner does; `raw` shows
 * what the server and the wire alone cost.
 */
export async function measurePickup(
  cluster: Cluster,
  plan: LatencyPlan,
  transport: ProbeTransport,
): Promise<number[]> {
  const probe = await openProbe(cluster, transport);
  const submit = new BenchHttp({
    baseUrl: cluster.clientUrl,
    token: cluster.clientToken,
    maxSockets: 1,
  });
  const body = { ...TRUE_TASK, target: { runner: `probe-${transport}` } };
  const samples: number[] = [];
  try {
    for (let i = 0; i < plan.warmup + plan.samples; i++) {
      const before = i === 0 ? await longPolls(cluster.admin) : 0;
      const claim = probe.claim();
      if (i === 0) await waitForLongPolls(cluster.admin, before + 1, 5_000);
      if (i >= plan.warmup) await sleep(plan.gapMs);
      const t0 = performance.now();
      const created = submit.ok('POST', '/v1/tasks', body);
      const got = await claim;
      const elapsed = performance.now() - t0;
      const task = taskOf(await created);
      if (!got || got.taskId !== task.id) {
        throw new Error(`pickup: claimed ${got?.taskId ?? 'nothing'}, submitted ${task.id}`);
      }
      await probe.finish(got.taskId, got.leaseToken);
      if (i >= plan.warmup) samples.push(elapsed);
    }
  } finally {
    submit.close();
    probe.close();
  }
  return samples;
}

/**
 * Submit → client holds the result of `true` (argv form, no shell), one request:
 * POST /v1/tasks?wait=30000, sequentially, with a real runner process waiting (with two replicas:
 * the client waits on B while the runner claims and finishes on A).
 */
export async function measureEndToEnd(cluster: Cluster, plan: LatencyPlan): Promise<number[]> {
  const client = new BenchHttp({
    baseUrl: cluster.clientUrl,
    token: cluster.clientToken,
    maxSockets: 1,
  });
  const samples: number[] = [];
  try {
    for (let i = 0; i < plan.warmup + plan.samples; i++) {
      if (i >= plan.warmup) await sleep(plan.gapMs);
      const t0 = performance.now();
      const reply = await client.ok('POST', '/v1/tasks?wait=30000', TRUE_TASK);
      const elapsed = performance.now() - t0;
      const task = taskOf(reply);
      if (task.state !== 'succeeded') throw new Error(`e2e: task ${task.id} ended ${task.state}`);
      if (i >= plan.warmup) samples.push(elapsed);
    }
  } finally {
    client.close();
  }
  return samples;
}
