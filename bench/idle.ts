// Idle cost: 1,000 long polls held open on separate keep-alive connections (waiting clients, then
// claim polls of runners); server RSS before and with them, and its CPU time while they sit idle.
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchHttp, taskOf } from './http.ts';
import {
  longPolls,
  startCluster,
  waitForLongPolls,
  type Cluster,
  type ClusterOptions,
} from './cluster.ts';
import { cpuMs, rssMiB } from './processes.ts';

export interface IdlePolls {
  kind: 'task waits' | 'claim polls';
  polls: number;
  rssBeforeMiB: number;
  rssWithMiB: number;
  /** Server CPU time used while the polls sat idle, over `idleMs`. */
  idleCpuMs: number;
  idleMs: number;
}

export interface IdlePlan {
  polls: number;
  idleMs: number;
}

/** Fresh server, no runner: measures both kinds of idle poll, one after the other. */
export async function measureIdle(
  plan: IdlePlan,
  clusterOpts: ClusterOptions,
): Promise<IdlePolls[]> {
  const cluster = await startCluster({ ...clusterOpts, label: `${clusterOpts.label}-idle` });
  try {
    const client = new BenchHttp({
      baseUrl: cluster.url,
      token: cluster.clientToken,
      maxSockets: 4,
    });
    // A task no runner will ever take: it targets a runner that does not exist.
    const body = { kind: 'shell', spec: { command: ['true'] }, target: { runner: 'nobody' } };
    const { id } = taskOf(await client.ok('POST', '/v1/tasks', body));
    client.close();
    const waits = await holdPolls(
      cluster,
      plan,
      'task waits',
      async (http) => {
        await http.send('GET', `/v1/tasks/${id}?wait=60000`);
      },
      cluster.clientToken,
    );
    const runnerToken = await cluster.runnerToken('idle');
    const claims = await holdPolls(
      cluster,
      plan,
      'claim polls',
      async (http) => {
        await http.send('POST', '/v1/runner/claim', {
          runner: 'idle',
          max: 1,
          waitMs: 60_000,
          kinds: ['file.list'],
        });
      },
      runnerToken,
    );
    return [waits, claims];
  } finally {
    await cluster.close();
  }
}

async function holdPolls(
  cluster: Cluster,
  plan: IdlePlan,
  kind: IdlePolls['kind'],
  poll: (http: BenchHttp) => Promise<void>,
  token: string,
): Promise<IdlePolls> {
  const pid = cluster.server.pid;
  const base = await longPolls(cluster.admin);
  await sleep(500);
  const rssBeforeMiB = rssMiB(pid);
  // One socket per poll: maxSockets above the poll count, so no request queues in the agent.
  const http = new BenchHttp({ baseUrl: cluster.url, token, maxSockets: plan.polls + 1 });
  const open = Array.from({ length: plan.polls }, () => poll(http).catch(() => undefined));
  try {
    await waitForLongPolls(cluster.admin, base + plan.polls, 30_000);
    await sleep(1_000); // let the allocation burst settle before reading memory
    const rssWithMiB = rssMiB(pid);
    const cpuBefore = cpuMs(pid);
    await sleep(plan.idleMs);
    const idleCpuMs = cpuMs(pid) - cpuBefore;
    return { kind, polls: plan.polls, rssBeforeMiB, rssWithMiB, idleCpuMs, idleMs: plan.idleMs };
  } finally {
    http.close(); // destroys the sockets: the server must release every waiter at once
    await Promise.all(open);
    await waitForPollsBelow(cluster, base + 1, 10_000);
  }
}

async function waitForPollsBelow(cluster: Cluster, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await longPolls(cluster.admin)) >= n) {
    if (Date.now() > deadline) throw new Error(`long polls not released within ${timeoutMs} ms`);
    await sleep(50);
  }
}
