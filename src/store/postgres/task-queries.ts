// The task side of the PostgreSQL store: create (idempotent), read, list, count, cancel and
// result-read bookkeeping. Claims and leases live in lease-queries.ts.
import { AppError } from '../../protocol/errors.ts';
import { STATES, type Outcome } from '../../protocol/tasks.ts';
import { TERMINAL_SQL } from '../terminal-sql.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import type * as S from '../types.ts';
import { isRetryable, type Database, type Tx } from './database.ts';
import { INSERT_TASK, TASK_COLUMNS, taskFromRow, taskInsertParams, type TaskRow } from './rows.ts';
import { logTask } from './event-log.ts';
import { sessionScopeOf, type SessionTurns } from './session-turns.ts';
import type { CallbackQueries } from './callback-queries.ts';

const CANCELLED_BEFORE_START: Outcome = {
  status: 'cancelled',
  error: { kind: 'cancelled', message: 'Cancelled before it started', retryable: false },
};

const SQL = {
  byId: `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1`,
  byIdempotencyKey: 'SELECT id, request_hash FROM tasks WHERE idempotency_key = $1',
  countByState: 'SELECT state, COUNT(*) AS n FROM tasks GROUP BY state',
  cancelPending: `UPDATE tasks SET state = 'cancelled', outcome = $3::jsonb, finished_at = $2,
      updated_at = $2
    WHERE id = $1 AND (state IN ('queued', 'scheduled') OR (state = 'held' AND lease_token IS NULL))
    RETURNING ${TASK_COLUMNS}`,
  // A task its runner holds for approval keeps its lease: the runner is asked, as for a running one.
  requestCancel: `UPDATE tasks SET cancel_requested_at = $2, updated_at = $2
    WHERE id = $1 AND state IN ('running', 'held') AND lease_token IS NOT NULL
      AND cancel_requested_at IS NULL RETURNING ${TASK_COLUMNS}`,
  markRead: `UPDATE tasks SET result_read_at = $2
    WHERE id = $1 AND result_read_at IS NULL AND state IN (${TERMINAL_SQL}) RETURNING ${TASK_COLUMNS}`,
  countUnread: `SELECT COUNT(*) AS n FROM tasks WHERE state IN (${TERMINAL_SQL}) AND result_read_at IS NULL`,
  runningWithKey: `SELECT COUNT(*) AS n FROM tasks
    WHERE concurrency_key = $1 AND state = 'running'`,
} as const;

/** List filters and their columns, in the order their conditions appear in the SQL. */
const LIST_FILTERS = [
  ['state', 'state'],
  ['kind', 'kind'],
  ['runner', 'runner'],
  ['sessionKey', 'session_key'],
] as const;

interface IdempotencyRow {
  id: string;
  request_hash: string | null;
}

export class TaskQueries {
  constructor(
    private readonly db: Database,
    private readonly turns: SessionTurns,
    private readonly callbacks: CallbackQueries,
  ) {}

  /**
   * Inserts a task, or returns the one an idempotency key already names. Two creates racing on
   * one key meet at the UNIQUE index: the second INSERT waits for the first to commit, then does
   * nothing (ON CONFLICT DO NOTHING), and reads the winner in a fresh statement snapshot.
   */
  createTask(task: S.NewTask, now: number): Promise<S.CreateTaskResult> {
    return this.db.transaction((tx) => this.createInTx(tx, task, now));
  }

  /** createTask for a batch in one transaction: one commit (and WAL flush) for them all. */
  async createTasks(
    tasks: readonly S.NewTask[],
    now: number,
  ): Promise<(S.CreateTaskResult | Error)[]> {
    if (tasks.length === 0) return [];
    return this.db.transaction(async (tx) => {
      const results: (S.CreateTaskResult | Error)[] = [];
      for (const task of tasks) results.push(await this.createInSavepoint(tx, task, now));
      return results;
    });
  }

  /**
   * One item of a batch: a create that fails rolls back to its savepoint and answers with its
   * error alone. A deadlock or serialization failure still runs the whole transaction again.
   */
  private async createInSavepoint(
    tx: Tx,
    task: S.NewTask,
    now: number,
  ): Promise<S.CreateTaskResult | Error> {
    try {
      return await tx.savepoint(() => this.createInTx(tx, task, now));
    } catch (err) {
      if (isRetryable(err)) throw err;
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /** The create itself, in the caller's transaction (createTask's own, or a schedule's firing). */
  async createInTx(tx: Tx, task: S.NewTask, now: number): Promise<S.CreateTaskResult> {
    const existing = await this.findByKey(tx, task);
    if (existing !== undefined) return { task: existing, created: false };
    const scope = sessionScopeOf(task.kind, task.spec, task.sessionKey);
    let session: { scope: string; held: boolean } | undefined;
    if (scope !== undefined) {
      await this.turns.lockScope(tx, scope);
      session = { scope, held: await this.turns.mustHold(tx, scope) };
    }
    const row = await tx.row<TaskRow>(INSERT_TASK, taskInsertParams(task, now, session));
    if (row === undefined) return { task: (await this.findByKey(tx, task))!, created: false };
    await this.callbacks.insertAll(tx, task.id, task.callbacks ?? [], now);
    logTask(tx, 'task.created', row, now, { origin: task.origin });
    if (session !== undefined) {
      await this.turns.submitted(tx, task, now);
      if (session.held) logTask(tx, 'task.held', row, now, { reason: 'session busy' });
    }
    return { task: taskFromRow(row), created: true };
  }

  /** The task an idempotency key already names; a repeat with a different hash is a conflict. */
  private async findByKey(tx: Tx, task: S.NewTask): Promise<S.StoredTask | undefined> {
    if (task.idempotencyKey === undefined) return undefined;
    const existing = await tx.row<IdempotencyRow>(SQL.byIdempotencyKey, [task.idempotencyKey]);
    if (existing === undefined) return undefined;
    const stored = existing.request_hash;
    if (stored !== null && task.requestHash !== undefined && stored !== task.requestHash) {
      throw new AppError('conflict', 'Idempotency-Key was already used with a different request');
    }
    return taskFromRow((await tx.row<TaskRow>(SQL.byId, [existing.id]))!);
  }

  async getTask(id: string): Promise<S.StoredTask | undefined> {
    const row = await this.db.row<TaskRow>(SQL.byId, [id]);
    return row === undefined ? undefined : taskFromRow(row);
  }

  /** Newest first; fetches one row past the page to learn whether a next page exists. */
  async listTasks(filter: S.TaskFilter): Promise<S.TaskPage> {
    const limit = Math.max(1, Math.trunc(filter.limit));
    const { sql, params } = buildListQuery(filter, limit + 1);
    const rows = await this.db.rows<TaskRow>(sql, params);
    const tasks = rows.slice(0, limit).map(taskFromRow);
    const last = tasks.at(-1);
    return rows.length > limit && last !== undefined
      ? { tasks, nextCursor: encodeCursor(last.id) }
      : { tasks };
  }

  async countTasks(): Promise<S.StateCounts> {
    const counts = Object.fromEntries(STATES.map((s) => [s, 0])) as S.StateCounts;
    for (const { state, n } of await this.db.rows<{ state: string; n: number }>(SQL.countByState)) {
      if (state in counts) counts[state as keyof S.StateCounts] = n;
    }
    return counts;
  }

  /** Pending tasks end at once; a running one gets a cancel request its runner sees on heartbeat. */
  async cancelTask(id: string, now: number): Promise<S.StoredTask | undefined> {
    const row = await this.db.transaction(async (tx) => {
      const outcome = JSON.stringify(CANCELLED_BEFORE_START);
      const cancelled = await tx.row<TaskRow>(SQL.cancelPending, [id, now, outcome]);
      if (cancelled !== undefined) {
        logTask(tx, 'task.cancelled', cancelled, now, { reason: 'before start' });
        await this.turns.ended(tx, cancelled, now);
        return cancelled;
      }
      const requested = await tx.row<TaskRow>(SQL.requestCancel, [id, now]);
      if (requested !== undefined) {
        logTask(tx, 'task.cancel_requested', requested, now);
        return requested;
      }
      return tx.row<TaskRow>(SQL.byId, [id]);
    });
    return row === undefined ? undefined : taskFromRow(row);
  }

  /** One conditional UPDATE, so two concurrent readers cannot both be first. */
  markResultRead(id: string, now: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const row = await tx.row<TaskRow>(SQL.markRead, [id, now]);
      if (row !== undefined) logTask(tx, 'task.reconciled', row, now);
      return row !== undefined;
    });
  }

  async countUnreadResults(): Promise<number> {
    return (await this.db.row<{ n: number }>(SQL.countUnread))!.n;
  }

  async countRunningWithKey(key: string): Promise<number> {
    return (await this.db.row<{ n: number }>(SQL.runningWithKey, [key]))!.n;
  }
}

/** Builds the list query with its numbered parameters, the limit last. */
function buildListQuery(filter: S.TaskFilter, limit: number): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  for (const [field, column] of LIST_FILTERS) {
    const value = filter[field];
    if (value === undefined) continue;
    params.push(value);
    conditions.push(`${column} = $${params.length}`);
  }
  if (filter.cursor !== undefined) {
    params.push(decodeCursor(filter.cursor));
    conditions.push(`id < $${params.length}`);
  }
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  params.push(limit);
  const sql = `SELECT ${TASK_COLUMNS} FROM tasks ${where} ORDER BY id DESC LIMIT $${params.length}`;
  return { sql, params };
}
