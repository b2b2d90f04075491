// Printing for client commands: JSON for scripts, short aligned tables for people.
import type { Task } from '../protocol/tasks.ts';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The exit code a command reporting on `task` ends with: the remote exit code when there is
 * one; 124 for a timeout (as timeout(1)), 130 for a cancel (as Ctrl-C), 127 when the command
 * could not start, 1 otherwise; 0 only for success.
 */
export function exitCodeOf(task: Task): number {
  const outcome = task.outcome;
  if (!outcome) return 1;
  if (outcome.status === 'succeeded') return 0;
  if (outcome.status === 'timed_out') return 124;
  if (outcome.status === 'cancelled') return 130;
  if (typeof outcome.exitCode === 'number' && outcome.exitCode !== 0) return outcome.exitCode;
  return outcome.error?.kind === 'spawn' ? 127 : 1;
}

export function printTable(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const row of rows) {
    process.stdout.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}\n`,
    );
  }
}

export function formatTime(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export function describeTask(task: Pick<Task, 'kind' | 'spec'>): string {
  const spec = task.spec as { command?: unknown; path?: unknown };
  if (task.kind === 'shell')
    return Array.isArray(spec.command) ? spec.command.join(' ') : String(spec.command);
  return `${task.kind} ${typeof spec.path === 'string' ? spec.path : ''}`;
}
