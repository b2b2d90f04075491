// Maps PostgreSQL rows to the store's shapes and back. jsonb columns arrive parsed, bigint ms as
// numbers (database.ts), booleans as booleans; NULL optional columns are left out of the object
// (never `null`), so results compare equal with the SQLite store's.
import type { Kind, Outcome, Target, TaskState } from '../../protocol/tasks.ts';
import type { Role, RunnerInfo, TokenInfo } from '../../protocol/auth.ts';
import type { TaskSignature } from '../../protocol/signature.ts';
import type { TaskHold } from '../../protocol/approvals.ts';
import type { NewTask, StoredTask, TaskOrigin } from '../types.ts';

/** The task columns a StoredTask is built from; `RETURNING ${TASK_COLUMNS}` reads a TaskRow. */
export const TASK_COLUMNS = `id, kind, spec, state, priority, run_at, timeout_ms, max_attempts,
  attempt, target, labels, session_key, origin, metadata, created_at, updated_at, started_at,
  finished_at, runner, lease_expires_at, cancel_requested_at, outcome, result_read_at,
  retry_on_failure, signature, concurrency_key, concurrency_limit, hold`;

export interface TaskRow {
  id: string;
  kind: string;
  spec: Record<string, unknown>;
  state: string;
  priority: number;
  run_at: number;
  timeout_ms: number;
  max_attempts: number;
  attempt: number;
  target: Target | null;
  labels: string[] | null;
  session_key: string | null;
  origin: string;
  metadata: Record<string, unknown> | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  runner: string | null;
  lease_expires_at: number | null;
  cancel_requested_at: number | null;
  outcome: Outcome | null;
  result_read_at: number | null;
  retry_on_failure: boolean;
  signature: TaskSignature | null;
  hold: TaskHold | null;
  concurrency_key: string | null;
  concurrency_limit: number | null;
}

export interface RunnerRow {
  name: string;
  instance_id: string;
  labels: string[];
  capacity: number;
  kinds: string[];
  version: string;
  policy_digest: string | null;
  first_seen_at: number;
  last_seen_at: number;
  /** Counted by the list query: tasks this runner holds a lease on now. */
  running: number;
}

export interface TokenRow {
  id: string;
  name: string;
  role: string;
  runner: string | null;
  hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** A value for a jsonb parameter: JSON text, or NULL. (pg would turn a JS array into a PG array.) */
export function jsonParam(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/** Builds a StoredTask from one row; NULL optional columns are left out. */
export function taskFromRow(row: TaskRow): StoredTask {
  const task: StoredTask = {
    id: row.id,
    kind: row.kind as Kind,
    spec: row.spec,
    state: row.state as TaskState,
    priority: row.priority,
    runAt: row.run_at,
    timeoutMs: row.timeout_ms,
    maxAttempts: row.max_attempts,
    retryOnFailure: row.retry_on_failure,
    attempt: row.attempt,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    cancelRequested: row.cancel_requested_at !== null,
    origin: row.origin as TaskOrigin,
  };
  put(task, 'target', row.target);
  put(task, 'labels', row.labels);
  put(task, 'sessionKey', row.session_key);
  put(task, 'metadata', row.metadata);
  if (typeof row.metadata?.scheduleId === 'string') task.scheduleId = row.metadata.scheduleId;
  put(task, 'startedAt', row.started_at);
  put(task, 'finishedAt', row.finished_at);
  put(task, 'runner', row.runner);
  put(task, 'leaseExpiresAt', row.lease_expires_at);
  put(task, 'outcome', row.outcome);
  put(task, 'resultReadAt', row.result_read_at);
  put(task, 'signature', row.signature);
  put(task, 'hold', row.hold);
  if (row.concurrency_key !== null) {
    task.concurrency = { key: row.concurrency_key, limit: row.concurrency_limit ?? 1 };
  }
  return task;
}

function put<K extends keyof StoredTask>(
  task: StoredTask,
  key: K,
  value: StoredTask[K] | null,
): void {
  if (value !== null && value !== undefined) task[key] = value;
}

/** The INSERT of a new task, its parameters in the order of taskInsertParams. */
export const INSERT_TASK = `INSERT INTO tasks (id, kind, spec, state, priority, run_at, timeout_ms,
    max_attempts, retry_on_failure, target, target_runner, labels, session_key, session_scope,
    origin, metadata, legacy_compatible, idempotency_key, request_hash, signature, created_at,
    updated_at, target_labels, concurrency_key, concurrency_limit)
  VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12::jsonb, $13, $14, $15,
    $16::jsonb, $17, $18, $19, $20::jsonb, $21, $21, $22::jsonb, $23, $24)
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING ${TASK_COLUMNS}`;

export function taskInsertParams(
  task: NewTask,
  now: number,
  session?: { scope: string; held: boolean },
): unknown[] {
  const state = session?.held === true ? 'held' : task.runAt > now ? 'scheduled' : 'queued';
  return [
    task.id,
    task.kind,
    JSON.stringify(task.spec),
    state,
    task.priority,
    task.runAt,
    task.timeoutMs,
    task.maxAttempts,
    task.retryOnFailure,
    jsonParam(task.target),
    task.target?.runner ?? null,
    jsonParam(task.labels),
    task.sessionKey ?? null,
    session?.scope ?? null,
    task.origin,
    jsonParam(task.metadata),
    task.legacyCompatible,
    task.idempotencyKey ?? null,
    task.requestHash ?? null,
    jsonParam(task.signature),
    now,
    requiredLabelsJson(task.target),
    task.concurrency?.key ?? null,
    task.concurrency?.limit ?? null,
  ];
}

/** The labels a task requires, distinct and sorted, as JSON; NULL when it requires none. */
function requiredLabelsJson(target: Target | undefined): string | null {
  const labels = [...new Set(target?.labels ?? [])].sort();
  return labels.length === 0 ? null : JSON.stringify(labels);
}

export function runnerFromRow(row: RunnerRow, onlineSince: number): RunnerInfo {
  const info: RunnerInfo = {
    name: row.name,
    instanceId: row.instance_id,
    labels: row.labels,
    capacity: row.capacity,
    running: row.running,
    kinds: row.kinds,
    version: row.version,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    online: row.last_seen_at >= onlineSince,
  };
  if (row.policy_digest !== null) info.policyDigest = row.policy_digest;
  return info;
}

export function tokenFromRow(row: TokenRow): TokenInfo {
  const info: TokenInfo = {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    createdAt: row.created_at,
  };
  if (row.runner !== null) info.runner = row.runner;
  if (row.last_used_at !== null) info.lastUsedAt = row.last_used_at;
  return info;
}
