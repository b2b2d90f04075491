// Maps SQLite rows to the store's shapes and back: JSON columns, 0/1 booleans, and NULL optional
// columns left out of the object (never `null`), so results compare equal across backends.
import type { Kind, Outcome, Target, TaskState } from '../../protocol/tasks.ts';
import type { Role, RunnerInfo, TokenInfo } from '../../protocol/auth.ts';
import type { TaskSignature } from '../../protocol/signature.ts';
import type { TaskHold } from '../../protocol/approvals.ts';
import type { NewTask, StoredTask, TaskOrigin } from '../types.ts';

/**
 * The task columns a StoredTask is built from, in the order of TaskValues. Task statements read
 * them in raw (array) mode: better-sqlite3 builds a two-dozen-column row object slowly (~30 µs,
 * about as long as the claim's UPDATE), and reading arrays measured twice as fast.
 */
export const TASK_COLUMNS = `id, kind, spec, state, priority, run_at, timeout_ms, max_attempts, attempt, target,
  labels, session_key, origin, metadata, created_at, updated_at, started_at, finished_at, runner,
  lease_expires_at, cancel_requested_at, outcome, result_read_at, retry_on_failure, signature,
  concurrency_key, concurrency_limit, hold`;

/** Where single fields sit in TaskValues, for queries that read one field of a raw row. */
export const AT = {
  id: 0,
  state: 3,
  runAt: 5,
  attempt: 8,
  sessionKey: 11,
  runner: 18,
  hold: 27,
} as const;

/** One raw row of TASK_COLUMNS; keep both in the same order. */
export type TaskValues = [
  id: string,
  kind: string,
  spec: string,
  state: string,
  priority: number,
  runAt: number,
  timeoutMs: number,
  maxAttempts: number,
  attempt: number,
  target: string | null,
  labels: string | null,
  sessionKey: string | null,
  origin: string,
  metadata: string | null,
  createdAt: number,
  updatedAt: number,
  startedAt: number | null,
  finishedAt: number | null,
  runner: string | null,
  leaseExpiresAt: number | null,
  cancelRequestedAt: number | null,
  outcome: string | null,
  resultReadAt: number | null,
  retryOnFailure: number,
  signature: string | null,
  concurrencyKey: string | null,
  concurrencyLimit: number | null,
  hold: string | null,
];

export interface RunnerRow {
  name: string;
  instance_id: string;
  labels: string;
  capacity: number;
  kinds: string;
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

/** Copies the entries whose value is neither null nor undefined. */
function definedOnly<T extends object>(fields: { [K in keyof T]?: T[K] | null }): Partial<T> {
  return Object.fromEntries(
    Object.entries(fields).filter(([, v]) => v !== null && v !== undefined),
  ) as Partial<T>;
}

function parseJson<T>(text: string | null): T | undefined {
  return text === null ? undefined : (JSON.parse(text) as T);
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/** Builds a StoredTask from one raw row; NULL optional columns are left out. A flat mapping. */
export function taskFromValues(values: TaskValues): StoredTask {
  const [
    id,
    kind,
    spec,
    state,
    priority,
    runAt,
    timeoutMs,
    maxAttempts,
    attempt,
    target,
    labels,
    sessionKey,
    origin,
    metadata,
    createdAt,
    updatedAt,
    startedAt,
    finishedAt,
    runner,
    leaseExpiresAt,
    cancelRequestedAt,
    outcome,
    resultReadAt,
    retryOnFailure,
    signature,
    concurrencyKey,
    concurrencyLimit,
    hold,
  ] = values;
  const task: StoredTask = {
    id,
    kind: kind as Kind,
    spec: JSON.parse(spec) as Record<string, unknown>,
    state: state as TaskState,
    priority,
    runAt,
    timeoutMs,
    maxAttempts,
    retryOnFailure: retryOnFailure === 1,
    attempt,
    createdAt,
    updatedAt,
    cancelRequested: cancelRequestedAt !== null,
    origin: origin as TaskOrigin,
  };
  put(task, 'target', parseJson<Target>(target));
  put(task, 'labels', parseJson<string[]>(labels));
  put(task, 'sessionKey', sessionKey);
  const meta = parseJson<Record<string, unknown>>(metadata);
  put(task, 'metadata', meta);
  if (typeof meta?.scheduleId === 'string') task.scheduleId = meta.scheduleId;
  put(task, 'startedAt', startedAt);
  put(task, 'finishedAt', finishedAt);
  put(task, 'runner', runner);
  put(task, 'leaseExpiresAt', leaseExpiresAt);
  put(task, 'outcome', parseJson<Outcome>(outcome));
  put(task, 'resultReadAt', resultReadAt);
  put(task, 'signature', parseJson<TaskSignature>(signature));
  if (concurrencyKey !== null)
    task.concurrency = { key: concurrencyKey, limit: concurrencyLimit ?? 1 };
  put(task, 'hold', parseJson<TaskHold>(hold));
  return task;
}

function put<K extends keyof StoredTask>(
  task: StoredTask,
  key: K,
  value: StoredTask[K] | null,
): void {
  if (value !== null && value !== undefined) task[key] = value;
}

/** The columns a new task's INSERT fills, in the order of taskInsertParams. */
const INSERT_TASK_COLUMNS = `id, kind, spec, state, priority, run_at, timeout_ms, max_attempts,
    retry_on_failure, target, target_runner, target_labels, labels, session_key, session_scope,
    origin, metadata, legacy_compatible, idempotency_key, request_hash, signature, concurrency_key,
    concurrency_limit, created_at, updated_at`;

/**
 * The INSERT of a new task. Positional: binding names costs better-sqlite3 two property lookups
 * from C++ per parameter, 25 of them here; one placeholder per column, so the two cannot drift.
 */
export const INSERT_TASK = `INSERT INTO tasks (${INSERT_TASK_COLUMNS})
  VALUES (${INSERT_TASK_COLUMNS.split(',')
    .map(() => '?')
    .join(', ')})
  RETURNING ${TASK_COLUMNS}`;

export function taskInsertParams(
  task: NewTask,
  now: number,
  session?: { scope: string; held: boolean },
): unknown[] {
  return [
    task.id,
    task.kind,
    JSON.stringify(task.spec),
    session?.held === true ? 'held' : task.runAt > now ? 'scheduled' : 'queued',
    task.priority,
    task.runAt,
    task.timeoutMs,
    task.maxAttempts,
    task.retryOnFailure ? 1 : 0,
    jsonOrNull(task.target),
    task.target?.runner ?? null,
    requiredLabelsJson(task.target),
    jsonOrNull(task.labels),
    task.sessionKey ?? null,
    session?.scope ?? null,
    task.origin,
    jsonOrNull(task.metadata),
    task.legacyCompatible ? 1 : 0,
    task.idempotencyKey ?? null,
    task.requestHash ?? null,
    jsonOrNull(task.signature),
    task.concurrency?.key ?? null,
    task.concurrency?.limit ?? null,
    now,
    now,
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
    labels: JSON.parse(row.labels) as string[],
    capacity: row.capacity,
    running: row.running,
    kinds: JSON.parse(row.kinds) as string[],
    version: row.version,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    online: row.last_seen_at >= onlineSince,
  };
  return Object.assign(info, definedOnly<RunnerInfo>({ policyDigest: row.policy_digest }));
}

export function tokenFromRow(row: TokenRow): TokenInfo {
  const info: TokenInfo = {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    createdAt: row.created_at,
  };
  return Object.assign(
    info,
    definedOnly<TokenInfo>({ runner: row.runner, lastUsedAt: row.last_used_at }),
  );
}
