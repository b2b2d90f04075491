// Formats benchmark results: the bars table (PASS/MISS), the machine calibration and the notes.
import type { Calibration } from './calibrate.ts';
import type { IdlePolls } from './idle.ts';
import type { BulkRun, LineLatency, OutputRun } from './output.ts';
import type { ThroughputRun } from './throughput.ts';
import { fmtInt, fmtMs, renderTable, summarize, type Summary } from './stats.ts';

export interface Row {
  measure: string;
  result: string;
  bar: string;
  pass: boolean;
}

/** 150 MB (decimal, as the bar says) in MiB, as /proc reports. */
const IDLE_RSS_BAR_MIB = 150e6 / 2 ** 20;

export const latencyText = (s: Summary): string =>
  `p50 ${fmtMs(s.p50)}  p90 ${fmtMs(s.p90)}  p99 ${fmtMs(s.p99)} ms (n=${s.n})`;

export function pickupRow(s: Summary): Row {
  return {
    measure: 'pickup: submit → runner has the task',
    result: latencyText(s),
    bar: 'p50 ≤ 2 ms, p99 ≤ 10 ms',
    pass: s.p50 <= 2 && s.p99 <= 10,
  };
}

export function endToEndRow(s: Summary): Row {
  return {
    measure: 'e2e: submit → result of `true`',
    result: latencyText(s),
    bar: 'p50 ≤ 15 ms, p99 ≤ 40 ms',
    pass: s.p50 <= 15 && s.p99 <= 40,
  };
}

const throughputBar = (run: ThroughputRun): number => (run.kind === 'queue' ? 3_000 : 500);

/**
 * `spawnCeiling` is the calibration's bare spawns/s, when it ran: spawn-bound is read against it,
 * since no process that forks node can start tasks faster than that host lets it.
 */
export function throughputRow(run: ThroughputRun, spawnCeiling?: number): Row {
  const bar = throughputBar(run);
  const what = run.kind === 'queue' ? 'queue-bound: file.read' : 'spawn-bound: shell `true`';
  const ceiling =
    run.kind === 'spawn' && spawnCeiling !== undefined
      ? `, bare spawn ceiling ${fmtInt(spawnCeiling)}/s`
      : '';
  return {
    measure: `${what}, 16 clients`,
    result: `${fmtInt(run.perSecond)} tasks/s (runner capacity ${run.capacity}${ceiling})`,
    bar: `≥ ${fmtInt(bar)} tasks/s`,
    pass: run.perSecond >= bar && run.errors === 0,
  };
}

/** Says so when the host itself spawns too slowly for the spawn-bound bar, else nothing. */
export function spawnHostNote(run: ThroughputRun, spawnCeiling?: number): string | undefined {
  const bar = throughputBar(run);
  if (run.kind !== 'spawn' || spawnCeiling === undefined || spawnCeiling >= bar) return undefined;
  return `spawn: this machine's bare spawn ceiling (${fmtInt(spawnCeiling)}/s) is below the bar of ${fmtInt(bar)}: the host sets this result (docs/benchmarks.md, "Spawn-bound: the host's fork")`;
}

export function idleRow(r: IdlePolls): Row {
  const cpuPct = (r.idleCpuMs / r.idleMs) * 100;
  return {
    measure: `idle: ${fmtInt(r.polls)} ${r.kind}`,
    result: `RSS ${r.rssBeforeMiB.toFixed(0)} → ${r.rssWithMiB.toFixed(0)} MiB; CPU ${fmtInt(r.idleCpuMs)} ms in ${r.idleMs / 1000} s`,
    bar: `RSS ≤ 150 MB (${IDLE_RSS_BAR_MIB.toFixed(0)} MiB), ~0 CPU`,
    pass: r.rssWithMiB <= IDLE_RSS_BAR_MIB && cpuPct < 2,
  };
}

/** The issue's bound on live output's memory: 100 MB (decimal) above idle, in MiB. */
const OUTPUT_RSS_BAR_MIB = 100e6 / 2 ** 20;
const MB = 1e6;

export function outputRssRow(b: BulkRun): Row {
  const above = (p: 'server' | 'runner'): number => b.peakMiB[p] - b.idleMiB[p];
  const text = (p: 'server' | 'runner'): string =>
    `${p} ${b.idleMiB[p].toFixed(0)} → ${b.peakMiB[p].toFixed(0)} MiB`;
  return {
    measure: `output: ${fmtInt(b.printedBytes / 2 ** 20)} MiB printed, peak RSS`,
    result: `${text('server')}, ${text('runner')}`,
    bar: `≤ idle + 100 MB (${OUTPUT_RSS_BAR_MIB.toFixed(0)} MiB) each`,
    pass:
      b.state === 'succeeded' &&
      above('server') <= OUTPUT_RSS_BAR_MIB &&
      above('runner') <= OUTPUT_RSS_BAR_MIB,
  };
}

export function lineLatencyRow(how: string, l: LineLatency, printed: number): Row {
  const s = summarize(l.total);
  return {
    measure: `output: line printed → ${how} has it`,
    result: `${latencyText(s)}${s.n < printed ? `, ${printed - s.n} lines missing` : ''}`,
    bar: 'p99 ≤ 300 ms',
    pass: s.p99 <= 300 && s.n === printed,
  };
}

export function outputNotes(r: OutputRun): string[] {
  const b = r.bulk;
  const rate = (bytes: number, ms: number): string =>
    `${(bytes / MB / (ms / 1000)).toFixed(1)} MB/s`;
  const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;
  const split = (name: string, l: LineLatency): string =>
    `output: ${name} line latency split at the server's \`at\`: line → stored ${latencyText(summarize(l.toServer))}; stored → client ${latencyText(summarize(l.toClient))}`;
  return [
    `output: task printed ${mb(b.printedBytes)} in ${fmtInt(b.processMs)} ms (${rate(b.printedBytes, b.processMs)}); task start → end ${fmtInt(b.taskMs)} ms (${rate(b.printedBytes, b.taskMs)})`,
    `output: logs follower got ${mb(b.follow.bytes)} in ${fmtInt(b.follow.requests)} requests, ${fmtInt(b.followMs)} ms after the task started (${rate(b.follow.bytes, b.followMs)})`,
    `output: stored ${mb(b.storedBytes)}, left out by the cap ${mb(b.omittedBytes)}, dropped by the runner's spool ${mb(b.droppedBytes)} (${fmtInt(b.droppedChunks)} chunks), unsent ${fmtInt(b.unsentChunks)} chunks`,
    `output: CPU from submit to the follower's end: ${cpuText(Object.fromEntries(Object.entries(b.cpuMs).map(([k, v]) => [k, (v / b.followMs) * 100])))} of one core`,
    `output: peak RSS sampled every 50 ms (${fmtInt(b.rssSamples)} samples) server ${b.peakMiB.server.toFixed(0)}, runner ${b.peakMiB.runner.toFixed(0)} MiB; kernel VmHWM server ${b.hwmMiB.server.toFixed(0)}, runner ${b.hwmMiB.runner.toFixed(0)} MiB`,
    `output: the runner's spawn helpers (${b.helpers.idleMiB.length}), RSS idle → peak: ${b.helpers.idleMiB.map((idle, i) => `${idle.toFixed(0)} → ${(b.helpers.peakMiB[i] ?? 0).toFixed(0)} MiB`).join(', ') || 'none'}`,
    split('logs long poll', r.latency.logs),
    split('SSE', r.latency.sse),
  ];
}

/** CPU ms each process spent per completed task: the least noisy throughput figure. */
export function perTaskText(run: ThroughputRun): string {
  const per = (pct: number): string =>
    (((pct / 100) * run.seconds * 1000) / Math.max(1, run.completed)).toFixed(2);
  const parts = Object.entries(run.cpuPercent).map(([k, v]) => `${k} ${per(v)}`);
  return `${parts.join(', ')} ms`;
}

export function cpuText(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .map(([k, v]) => `${k} ${v.toFixed(0)}%`)
    .join(', ');
}

export function calibrationTable(c: Calibration, gapMs: number): string {
  return renderTable(
    ['Machine calibration (bare Node, no Outpost)', 'Result'],
    [
      [`one round trip after ${gapMs} ms idle (latency floor)`, latencyText(c.idleRoundTrip)],
      [
        '16 clients, node:http keep-alive (throughput ceiling)',
        `${fmtInt(c.ceilingPerSecond)} req/s`,
      ],
      ['16 clients, fetch (undici, as the SDK uses)', `${fmtInt(c.fetchPerSecond)} req/s`],
      [
        'spawn `true`, 16 at a time, from a bare node process',
        `${fmtInt(c.spawnPerSecond)} spawns/s, ${fmtInt(c.spawnParentCpuUs)} µs parent CPU each`,
      ],
      [
        'client CPU per request: node:http vs fetch',
        `${fmtInt(c.nodeHttpClientCpuUs)} µs vs ${fmtInt(c.fetchClientCpuUs)} µs`,
      ],
    ],
  );
}

export function barsTable(rows: readonly Row[]): string {
  return renderTable(
    ['Measure', 'Result', 'Bar', ''],
    rows.map((r) => [r.measure, r.result, r.bar, r.pass ? 'PASS' : 'MISS']),
  );
}
