// Formats benchmark results: the bars table (PASS/MISS), the machine calibration and the notes.
import type { Calibration } from './calibrate.ts';
import type { IdlePolls } from './idle.ts';
import type { ThroughputRun } from './throughput.ts';
import { fmtInt, fmtMs, renderTable, type Summary } from './stats.ts';

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

export function throughputRow(run: ThroughputRun): Row {
  const bar = run.kind === 'queue' ? 3_000 : 500;
  const what = run.kind === 'queue' ? 'queue-bound: file.read' : 'spawn-bound: shell `true`';
  return {
    measure: `${what}, 16 clients`,
    result: `${fmtInt(run.perSecond)} tasks/s (runner capacity ${run.capacity})`,
    bar: `≥ ${fmtInt(bar)} tasks/s`,
    pass: run.perSecond >= bar && run.errors === 0,
  };
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
