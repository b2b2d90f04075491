// The runner's local audit log: one JSON line per event (received, decision, started, ended) in
// `<dataDir>/audit.log`, opened with O_APPEND and never truncated or rotated by the runner.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Kind, Outcome } from '../../protocol/tasks.ts';
import { errorFields, type RunnerLog } from '../runner-log.ts';
import { summariseSpec } from './spec-summary.ts';

export type AuditEvent = 'received' | 'decision' | 'started' | 'ended';

/**
 * What the runner decided: ran; refused (by signature or policy); held for a person; approved,
 * rejected or expired while held; a remote approval it did not accept (`approval-refused`, the
 * task stays held); cancelled while held (a client's cancel, a drain or stop).
 */
export const AUDIT_DECISIONS = [
  'ran',
  'refused',
  'held',
  'approved',
  'rejected',
  'expired',
  'approval-refused',
  'cancelled',
] as const;
export type AuditDecision = (typeof AUDIT_DECISIONS)[number];

/** One line of the log. Spec summaries carry no env values and never the runner's token. */
export interface AuditEntry {
  /** Epoch ms. */
  at: number;
  event: AuditEvent;
  taskId: string;
  attempt: number;
  kind?: Kind;
  summary?: Record<string, unknown>;
  decision?: AuditDecision;
  rule?: string;
  message?: string;
  /** Who decided about a held task: `local user alice`, `token laptop`, `key laptop`. */
  by?: string;
  /** A held task: when it expires unless someone decides. */
  expiresAt?: number;
  status?: Outcome['status'];
  exitCode?: number | null;
  errorKind?: string;
  durationMs?: number;
}

export interface AuditLog {
  received(task: {
    taskId: string;
    attempt: number;
    kind: Kind;
    spec: Record<string, unknown>;
  }): void;
  /** Entries of one moment, in order; a decision or start reaches the file before this returns. */
  record(...entries: Omit<AuditEntry, 'at'>[]): void;
  close(): void;
}

export const AUDIT_FILE = 'audit.log';

export function auditPathOf(dataDir: string): string {
  return join(dataDir, AUDIT_FILE);
}

/**
 * Opens the log lazily, on the first entry (a runner that never gets a task writes nothing).
 * Writes are synchronous and each is of whole lines: with O_APPEND the kernel puts every write
 * at the current end, so a log rotated by copy-and-truncate keeps whole lines. A failing disk
 * is logged once and the runner carries on (it does not refuse work because of its own log).
 * A decision or a start is written before the runner acts on it. `received` and `ended` entries
 * record what already happened, so they wait for the next write or the end of the current turn
 * of the event loop: a busy runner then writes about once per task instead of three times (each
 * write is a system call, and they were a tenth of its CPU), and the file's order is unchanged.
 * @example const audit = openAuditLog({ dataDir, secrets: [token], log });
 */
export function openAuditLog(opts: {
  dataDir: string;
  secrets: readonly string[];
  log: RunnerLog;
}): AuditLog {
  const path = auditPathOf(opts.dataDir);
  let fd: number | undefined;
  let broken = false;
  let waiting = '';
  let flushQueued = false;
  const writeOut = (): void => {
    const lines = waiting;
    waiting = '';
    if (broken || lines === '') return;
    try {
      if (fd === undefined) {
        mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
        fd = openSync(path, 'a', 0o600);
      }
      writeSync(fd, redact(lines, opts.secrets));
    } catch (err) {
      broken = true;
      opts.log('error', 'cannot write the audit log; no more entries are recorded', {
        path,
        ...errorFields(err),
      });
    }
  };
  const add = (entries: AuditEntry[], now: boolean): void => {
    for (const entry of entries) waiting += `${JSON.stringify(entry)}\n`;
    if (now) return writeOut();
    if (flushQueued) return;
    flushQueued = true;
    setImmediate(() => {
      flushQueued = false;
      writeOut();
    });
  };
  return {
    received: ({ taskId, attempt, kind, spec }) => {
      const summary = summariseSpec(kind, spec);
      add([{ at: Date.now(), event: 'received', taskId, attempt, kind, summary }], false);
    },
    record: (...entries) => {
      const at = Date.now();
      const stamped = entries.map((entry) => ({ at, ...entry }));
      add(
        stamped,
        stamped.some((entry) => entry.event !== 'ended' && entry.event !== 'received'),
      );
    },
    close: () => {
      writeOut();
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** A hostile server knows the runner's token and could put it in a command to get it logged. */
function redact(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('[redacted]');
  return out;
}
