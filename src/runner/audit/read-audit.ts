// Reads the audit log back for `outpost runner audit`: every line parsed (a torn or foreign line
// is skipped, not fatal), filtered by task, decision and age.
import { readFileSync } from 'node:fs';
import type { AuditDecision, AuditEntry } from './audit-log.ts';

export interface AuditFilter {
  taskId?: string;
  decision?: AuditDecision;
  /** Only entries at or after this time (epoch ms). */
  sinceAt?: number;
}

/** The entries of `path` that pass `filter`, oldest first; a missing file is an empty log. */
export function readAuditLog(path: string, filter: AuditFilter = {}): AuditEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const entries = text.split('\n').flatMap(parseLine);
  // A decision filter keeps every entry of the tasks with that decision, so their story stays whole.
  const decided = filter.decision
    ? new Set(entries.filter((e) => e.decision === filter.decision).map((e) => e.taskId))
    : undefined;
  return entries.filter(
    (e) =>
      (filter.taskId === undefined || e.taskId === filter.taskId) &&
      (decided === undefined || decided.has(e.taskId)) &&
      (filter.sinceAt === undefined || e.at >= filter.sinceAt),
  );
}

function parseLine(line: string): AuditEntry[] {
  if (line.trim() === '') return [];
  try {
    const entry = JSON.parse(line) as AuditEntry;
    return typeof entry.at === 'number' && typeof entry.taskId === 'string' ? [entry] : [];
  } catch {
    return [];
  }
}

/** One line per entry for people: time, task, attempt, event and what matters about it. */
export function formatAuditEntry(e: AuditEntry): string {
  const time = new Date(e.at).toISOString();
  const detail =
    e.event === 'received'
      ? `${e.kind ?? ''} ${JSON.stringify(e.summary ?? {})}`
      : e.event === 'decision'
        ? decisionText(e)
        : e.event === 'ended'
          ? `${e.status ?? ''}${e.exitCode !== undefined ? ` exit ${e.exitCode}` : ''}${e.errorKind ? ` (${e.errorKind})` : ''}`
          : '';
  return `${time}  ${e.taskId}#${e.attempt}  ${e.event.padEnd(8)} ${detail}`.trimEnd();
}

function decisionText(e: AuditEntry): string {
  const by = e.by === undefined ? '' : ` by ${e.by}`;
  const rule = e.rule === undefined ? '' : ` ${e.rule}`;
  const message = e.message === undefined ? '' : `: ${e.message}`;
  return e.decision === 'ran' ? 'ran' : `${e.decision ?? ''}${rule}${by}${message}`;
}
