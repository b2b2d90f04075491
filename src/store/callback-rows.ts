// A callback row as both Store backends read it, and what reads, events and the dispatcher see
// of it (never the secret, except in a claim).
import { shownTarget } from '../lib/shown-target.ts';
import type { CallbackStatus } from '../protocol/callbacks.ts';
import type * as S from './types.ts';

export interface CallbackRow {
  id: number;
  task_id: string;
  kind: S.CallbackKind;
  target: string;
  secret: string | null;
  state: CallbackStatus['state'];
  attempts: number;
  parts: number | null;
  sent_parts: number;
  last_error: string | null;
  sent_at: number | null;
}

/** What a callback event records of it. */
export function eventData(row: CallbackRow): Record<string, unknown> {
  const data: Record<string, unknown> = {
    kind: row.kind,
    target: shownTarget(row.kind, row.target),
  };
  if (row.parts !== null) data.parts = row.parts;
  if (row.kind === 'discord') data.sentParts = row.sent_parts;
  return data;
}

/** The callback as a task read shows it. */
export function statusFromRow(row: CallbackRow): CallbackStatus {
  const status: CallbackStatus = {
    kind: row.kind,
    target: shownTarget(row.kind, row.target),
    state: row.state,
    attempts: row.attempts,
  };
  if (row.kind === 'discord') status.sentParts = row.sent_parts;
  if (row.parts !== null) status.parts = row.parts;
  if (row.last_error !== null) status.lastError = row.last_error;
  if (row.sent_at !== null) status.sentAt = row.sent_at;
  return status;
}

/** A callback taken for delivery, with its secret. */
export function claimedFromRow(row: CallbackRow): S.ClaimedCallback {
  const claimed: S.ClaimedCallback = {
    id: row.id,
    taskId: row.task_id,
    kind: row.kind,
    target: row.target,
    attempts: row.attempts,
    sentParts: row.sent_parts,
  };
  if (row.secret !== null) claimed.secret = row.secret;
  if (row.parts !== null) claimed.parts = row.parts;
  if (row.last_error !== null) claimed.lastError = row.last_error;
  return claimed;
}
