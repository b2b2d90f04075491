// The side-by-side table of the store setups: SQLite, PostgreSQL with one and with two replicas.
import { setupName } from './backend.ts';
import type { CoreResults } from './scenarios.ts';
import { fmtInt, fmtMs, renderTable, summarize, type Summary } from './stats.ts';
import type { ThroughputKind, ThroughputRun } from './throughput.ts';

const triple = (s: Summary | undefined): string =>
  s ? `${fmtMs(s.p50)} / ${fmtMs(s.p90)} / ${fmtMs(s.p99)}` : '-';

/** CPU ms `label` spent per completed task (summed over replicas or runners). */
function perTask(run: ThroughputRun | undefined, label: string): string {
  const pct = run?.cpuPercent[label];
  if (!run || pct === undefined) return '-';
  return (((pct / 100) * run.seconds * 1000) / Math.max(1, run.completed)).toFixed(2);
}

function throughputRows(kind: ThroughputKind, results: readonly CoreResults[]): string[][] {
  const runs = results.map((r) => r.throughput[kind]);
  if (runs.every((r) => r === undefined)) return [];
  const what = kind === 'queue' ? 'queue-bound (file.read)' : 'spawn-bound (shell `true`)';
  const rate = (r: ThroughputRun | undefined): string =>
    r ? `${fmtInt(r.perSecond)}${r.errors > 0 ? ` (${r.errors} errors)` : ''}` : '-';
  const cpu = (r: ThroughputRun | undefined): string =>
    ['server', 'runner', 'postgres'].map((l) => perTask(r, l)).join(' / ');
  return [
    [`${what}, 16 clients: tasks/s`, ...runs.map(rate)],
    [
      `  latency under load p50 / p90 / p99 ms`,
      ...runs.map((r) => triple(r && summarize(r.latencies))),
    ],
    [`  CPU ms per task: servers / runners / PostgreSQL`, ...runs.map(cpu)],
  ];
}

export function backendTable(results: readonly CoreResults[]): string {
  const rows: string[][] = [];
  const latency = (label: string, pick: (r: CoreResults) => Summary | undefined): void => {
    if (results.some((r) => pick(r) !== undefined)) {
      rows.push([label, ...results.map((r) => triple(pick(r)))]);
    }
  };
  latency('pickup p50 / p90 / p99 ms (bar 2 / - / 10)', (r) => r.pickup);
  latency('  the same, raw node:http probe', (r) => r.pickupRaw);
  latency('e2e p50 / p90 / p99 ms (bar 15 / - / 40)', (r) => r.e2e);
  rows.push(...throughputRows('queue', results), ...throughputRows('spawn', results));
  return renderTable(['Measure', ...results.map((r) => setupName(r.setup))], rows);
}
