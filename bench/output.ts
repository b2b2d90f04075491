// Live output scenario: a task printing 1 GiB followed by a logs long poll (throughput, peak RSS of
// server and runner, what was stored, left out by the cap, dropped by the runner's spool), and a
// task printing a timestamp every 50 ms followed by the long poll and by SSE (line latency).
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type ClusterOptions } from './cluster.ts';
import {
  followEvents,
  followLogs,
  RssSampler,
  type FollowResult,
  type Received,
} from './follow.ts';
import { BenchHttp, field, taskOf } from './http.ts';
import {
  childPids,
  cpuMs,
  cpuMsIfAlive,
  markProfileWindow,
  rssMiB,
  selfCpuMs,
} from './processes.ts';
import { performance } from 'node:perf_hooks';

export interface OutputPlan {
  /** Bytes the bulk task prints (1 GiB; less with --quick). */
  bytes: number;
  /** Timestamp lines the latency task prints, one every 50 ms. */
  lines: number;
}

/** ~100-byte lines (99 characters and a newline), as a build or test log would print. */
const LINE = `outpost bench output line: the quick brown fox jumps over the lazy dog ${'.'.repeat(27)}`;

export interface BulkRun {
  state: string;
  /** Bytes the task printed (outcome.stdoutBytes) and how long its process ran (durationMs). */
  printedBytes: number;
  processMs: number;
  /** finishedAt - startedAt on the server: the process, then the runner's last flush and finish. */
  taskMs: number;
  follow: FollowResult;
  /** From the task's start to the follower seeing `done`. */
  followMs: number;
  /** What a reader can still get after the end (markers excluded), and what the cap left out. */
  storedBytes: number;
  omittedBytes: number;
  /** The outcome's metadata: chunks the runner's full spool dropped, and chunks never sent. */
  droppedBytes: number;
  droppedChunks: number;
  unsentChunks: number;
  idleMiB: Record<'server' | 'runner', number>;
  peakMiB: Record<'server' | 'runner', number>;
  hwmMiB: Record<'server' | 'runner', number>;
  rssSamples: number;
  /** CPU used from submit to the follower's end, ms: server, runner, its spawn helpers, the bench (the follower). */
  cpuMs: Record<'server' | 'runner' | 'helpers' | 'bench', number>;
  /** The runner's spawn helpers (they read the task's pipes and relay its output): RSS, MiB. */
  helpers: { idleMiB: number[]; peakMiB: number[] };
}

/** Per line: time the client parsed it − the epoch ms printed in it, split at the server's `at`. */
export interface LineLatency {
  total: number[];
  /** `at` − timestamp: the runner's flush wait, its request, the store. */
  toServer: number[];
  /** receivedAt − `at`: the server waking the follower and the reply to it. */
  toClient: number[];
}

export interface LatencyRun {
  printed: number;
  logs: LineLatency;
  sse: LineLatency;
}

export interface OutputRun {
  latency: LatencyRun;
  bulk: BulkRun;
}

/** One fresh server + one runner (capacity 2): the latency task first, then the 1 GiB one. */
export async function measureOutput(
  plan: OutputPlan,
  clusterOpts: ClusterOptions,
): Promise<OutputRun> {
  const cluster = await startCluster({ ...clusterOpts, label: `${clusterOpts.label}-output` });
  const http = new BenchHttp({ baseUrl: cluster.url, token: cluster.clientToken, maxSockets: 4 });
  try {
    const runner = await cluster.startRunner('bench', 2);
    const submit = async (command: string, timeoutMs: number): Promise<string> =>
      taskOf(await http.ok('POST', '/v1/tasks', { kind: 'shell', spec: { command }, timeoutMs }))
        .id;
    const mark = (name: string, start: number): void => {
      for (const d of [cluster.server, runner])
        markProfileWindow(d, name, start, performance.now());
    };
    const linesStart = performance.now();
    const latency = await measureLines(cluster.url, cluster.clientToken, http, plan, submit);
    mark('output-lines', linesStart);
    await sleep(1_000); // let the latency task's garbage settle before reading idle memory
    const pids = { server: cluster.server.pid, runner: runner.pid };
    const idleMiB = { server: rssMiB(pids.server), runner: rssMiB(pids.runner) };
    // Started by the latency task; the bulk task runs through one of them.
    const helperPids = childPids(runner.pid);
    const helperIdleMiB = helperPids.map(rssMiB);
    const cpuBefore = cpuOf(pids, helperPids);
    const bulkStart = performance.now();
    const helperNames = Object.fromEntries(helperPids.map((pid, i) => [`helper${i}`, pid]));
    const sampler = new RssSampler({ ...pids, ...helperNames }, 50);
    let rss;
    let id: string;
    let follow: FollowResult;
    try {
      id = await submit(`yes '${LINE}' | head -c ${plan.bytes}`, 600_000);
      follow = await followLogs(http, id);
    } finally {
      rss = sampler.stop();
    }
    mark('output-bulk', bulkStart);
    const cpuAfter = cpuOf(pids, helperPids);
    const bulk = await bulkResult(http, id, follow);
    return {
      latency,
      bulk: {
        ...bulk,
        idleMiB,
        peakMiB: rss.peak,
        hwmMiB: rss.hwm,
        rssSamples: rss.samples,
        cpuMs: {
          server: cpuAfter.server - cpuBefore.server,
          runner: cpuAfter.runner - cpuBefore.runner,
          helpers: cpuAfter.helpers - cpuBefore.helpers,
          bench: cpuAfter.bench - cpuBefore.bench,
        },
        helpers: {
          idleMiB: helperIdleMiB,
          peakMiB: helperPids.map((_, i) => rss.peak[`helper${i}`] ?? 0),
        },
      },
    };
  } finally {
    http.close();
    await cluster.close();
  }
}

function cpuOf(pids: { server: number; runner: number }, helperPids: number[]): BulkRun['cpuMs'] {
  const helpers = helperPids.reduce((acc, pid) => acc + cpuMsIfAlive(pid), 0);
  return { server: cpuMs(pids.server), runner: cpuMs(pids.runner), helpers, bench: selfCpuMs() };
}

async function measureLines(
  url: string,
  token: string,
  http: BenchHttp,
  plan: OutputPlan,
  submit: (command: string, timeoutMs: number) => Promise<string>,
): Promise<LatencyRun> {
  // GNU date: %3N is milliseconds. Each line is one `date` process, then 50 ms of sleep.
  const command = `for i in $(seq 1 ${plan.lines}); do date +%s%3N; sleep 0.05; done`;
  const id = await submit(command, 120_000);
  const logs = emptyLatency();
  const sse = emptyLatency();
  await Promise.all([
    followLogs(http, id, (c) => addLines(logs, c)),
    followEvents(url, token, id, (c) => addLines(sse, c)),
  ]);
  const task = await http.ok('GET', `/v1/tasks/${id}`);
  if (taskOf(task).state !== 'succeeded') throw new Error(`output: latency task ${id} failed`);
  return { printed: plan.lines, logs, sse };
}

function emptyLatency(): LineLatency {
  return { total: [], toServer: [], toClient: [] };
}

function addLines(into: LineLatency, c: Received): void {
  for (const line of c.data.split('\n')) {
    if (!/^\d{13}$/.test(line)) continue;
    const printedAt = Number(line);
    into.total.push(c.receivedAt - printedAt);
    into.toServer.push(c.at - printedAt);
    into.toClient.push(c.receivedAt - c.at);
  }
}

/** Reads the ended task and everything still stored for it. */
async function bulkResult(
  http: BenchHttp,
  id: string,
  follow: FollowResult,
): Promise<Omit<BulkRun, 'idleMiB' | 'peakMiB' | 'hwmMiB' | 'rssSamples' | 'cpuMs' | 'helpers'>> {
  const task = await http.ok('GET', `/v1/tasks/${id}`);
  const outcome = field(task, 'outcome');
  const metadata = field(outcome, 'metadata');
  const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
  const startedAt = num(field(task, 'startedAt'));
  let storedBytes = 0;
  let omittedBytes = 0;
  for (let after = 0; ;) {
    const page = await http.ok('GET', `/v1/tasks/${id}/logs?after=${after}&limit=1000`);
    const chunks = field(page, 'chunks') as { data: string; omittedBytes?: number }[];
    for (const c of chunks)
      if (c.omittedBytes === undefined) storedBytes += Buffer.byteLength(c.data);
    omittedBytes = num(field(page, 'omittedBytes'));
    if (chunks.length === 0 || field(page, 'done') === true) break;
    after = num(field(page, 'lastSeq'));
  }
  return {
    state: taskOf(task).state,
    printedBytes: num(field(outcome, 'stdoutBytes')),
    processMs: num(field(outcome, 'durationMs')),
    taskMs: num(field(task, 'finishedAt')) - startedAt,
    follow,
    followMs: follow.doneAt - startedAt,
    storedBytes,
    omittedBytes,
    droppedBytes: num(field(metadata, 'outputDroppedBytes')),
    droppedChunks: num(field(metadata, 'outputDroppedChunks')),
    unsentChunks: num(field(metadata, 'outputUnsentChunks')),
  };
}
