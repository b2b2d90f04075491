// The task side of the SQLite store: create (idempotent), read, list, count, cancel and
// result-read bookkeeping. Claims and leases live in lease-queries.ts.
import type Database from 'better-sqlite3';
import { AppError } from '../../protocol/errors.ts';
import { STATES, TERMINAL_STATES, type Outcome } from '../../protocol/tasks.ts';
import { LIVE_STATES, stateIndexTerm, UNSUCCESSFUL_STATES } from './state-indexes.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import type * as S from '../types.ts';
import {
  prepareStatements,
  StatementCache,
  type Prepared,
  type Transaction,
} from './statements.ts';
import {
  INSERT_TASK,
  TASK_COLUMNS,
  taskFromValues,
  taskInsertParams,
  type TaskValues,
} from './rows.ts';
import type { EventLog } from './event-log.ts';
import { sessionScopeOf, type SessionTurns } from './session-turns.ts';
import type { CallbackQueries } from './callback-queries.ts';

const CANCELLED_BEFORE_START: Outcome = {
  status: 'cancelled',
  error: { kind: 'cancelled', message: 'Cancelled before it started', retryable: false },
};

const TERMINAL = TERMINAL_STATES.map((s) => `'${s}'`).join(', ');

const SQL = {
  insert: INSERT_TASK,
  byId: `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`,
  byIdempotencyKey: 'SELECT id, request_hash FROM tasks WHERE idempotency_key = ?',
  // Each partial state index counts its own states; succeeded tasks are the rest of the table.
  countLive: `SELECT state, COUNT(*) AS n FROM tasks WHERE ${LIVE_STATES} GROUP BY state`,
  countUnsuccessful: `SELECT state, COUNT(*) AS n FROM tasks WHERE ${UNSUCCESSFUL_STATES}
    GROUP BY state`,
  countAll: 'SELECT COUNT(*) AS n FROM tasks',
  cancelPending: `UPDATE tasks SET state = 'cancelled', outcome = @outcome, finished_at = @now,
      updated_at = @now
    WHERE id = @id AND (state IN ('queued', 'scheduled') OR (state = 'held' AND lease_token IS NULL))
    RETURNING ${TASK_COLUMNS}`,
  requestCancel: `UPDATE tasks SET cancel_requested_at = @now, updated_at = @now
    WHERE id = @id AND state IN ('running', 'held') AND lease_token IS NOT NULL
      AND cancel_requested_at IS NULL RETURNING ${TASK_COLUMNS}`,
  markRead: `UPDATE tasks SET result_read_at = @now
    WHERE id = @id AND result_read_at IS NULL AND state IN (${TERMINAL}) RETURNING ${TASK_COLUMNS}`,
  // Reads every finished task: fine while history is in the thousands.
  countUnread: `SELECT COUNT(*) AS n FROM tasks WHERE state IN (${TERMINAL}) AND result_read_at IS NULL`,
  runningWithKey: `SELECT COUNT(*) AS n FROM tasks INDEXED BY tasks_concurrency_running
    WHERE concurrency_key = ? AND state = 'running'`,
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
  private readonly statements: Prepared<typeof SQL>;
  private readonly listVariants: StatementCache;
  private readonly cancelTx: Transaction<[string, number], TaskValues | undefined>;
  private readonly markReadTx: Transaction<[string, number], boolean>;

  constructor(
    db: Database.Database,
    private readonly events: EventLog,
    private readonly turns: SessionTurns,
    private readonly callbacks: CallbackQueries,
  ) {
    this.statements = prepareStatements(db, SQL);
    this.listVariants = new StatementCache(db);
    this.cancelTx = db.transaction((id: string, now: number) => this.cancelInTx(id, now));
    this.markReadTx = db.transaction((id: string, now: number) => {
      const values = this.statements.markRead.get({ id, now }) as TaskValues | undefined;
      if (values !== undefined) this.events.logTask('task.reconciled', values, now);
      return values !== undefined;
    });
  }

  /**
   * Inserts a task, or returns the one an idempotency key already names. Callers hold a write
   * transaction (the store's write batch, a schedule's firing): BEGIN IMMEDIATE takes the write
   * lock before the key lookup, so two processes racing on one key cannot both insert; the UNIQUE
   * index on idempotency_key is the second line of defence.
   */
  createInTx(task: S.NewTask, now: number): S.CreateTaskResult {
    const key = task.idempotencyKey;
    const existing = key === undefined ? undefined : this.statements.byIdempotencyKey.get(key);
    if (existing !== undefined) {
      return {
        task: this.sameRequestOrThrow(existing as IdempotencyRow, task.requestHash),
        created: false,
      };
    }
    const scope = sessionScopeOf(task.kind, task.spec, task.sessionKey);
    const session = scope === undefined ? undefined : { scope, held: this.turns.mustHold(scope) };
    const values = this.statements.insert.get(
      ...taskInsertParams(task, now, session),
    ) as TaskValues;
    this.callbacks.insertAll(task.id, task.callbacks ?? [], now);
    this.events.logTask('task.created', values, now, { origin: task.origin });
    if (session !== undefined) {
      this.turns.submitted(task, now);
      if (session.held) this.events.logTask('task.held', values, now, { reason: 'session busy' });
    }
    return { task: taskFromValues(values), created: true };
  }

  /** A repeat is the same request unless both carry hashes and they differ. */
  private sameRequestOrThrow(
    existing: IdempotencyRow,
    requestHash: string | undefined,
  ): S.StoredTask {
    const stored = existing.request_hash;
    if (stored !== null && requestHash !== undefined && stored !== requestHash) {
      throw new AppError('conflict', 'Idempotency-Key was already used with a different request');
    }
    return taskFromValues(this.statements.byId.get(existing.id) as TaskValues);
  }

  getTask(id: string): S.StoredTask | undefined {
    const values = this.statements.byId.get(id) as TaskValues | undefined;
    return values === undefined ? undefined : taskFromValues(values);
  }

  /** Newest first; fetches one row past the page to learn whether a next page exists. */
  listTasks(filter: S.TaskFilter): S.TaskPage {
    const limit = Math.max(1, Math.trunc(filter.limit));
    const { sql, params } = buildListQuery(filter);
    const rows = this.listVariants.get(sql).all(...params, limit + 1) as TaskValues[];
    const tasks = rows.slice(0, limit).map(taskFromValues);
    const last = tasks.at(-1);
    return rows.length > limit && last !== undefined
      ? { tasks, nextCursor: encodeCursor(last.id) }
      : { tasks };
  }

  countTasks(): S.StateCounts {
    const counts = Object.fromEntries(STATES.map((s) => [s, 0])) as S.StateCounts;
    const { countLive, countUnsuccessful, countAll } = this.statements;
    let others = 0;
    for (const statement of [countLive, countUnsuccessful]) {
      for (const { state, n } of statement.all() as { state: string; n: number }[]) {
        if (state in counts) counts[state as keyof S.StateCounts] = n;
        others += n;
      }
    }
    counts.succeeded = (countAll.get() as { n: number }).n - others;
    return counts;
  }

  cancelTask(id: string, now: number): S.StoredTask | undefined {
    const values = this.cancelTx.immediate(id, now);
    return values === undefined ? undefined : taskFromValues(values);
  }

  /** Pending tasks end at once; a running one gets a cancel request its runner sees on heartbeat. */
  private cancelInTx(id: string, now: number): TaskValues | undefined {
    const outcome = JSON.stringify(CANCELLED_BEFORE_START);
    const { cancelPending, requestCancel, byId } = this.statements;
    const cancelled = cancelPending.get({ id, now, outcome }) as TaskValues | undefined;
    if (cancelled !== undefined) {
      this.events.logTask('task.cancelled', cancelled, now, { reason: 'before start' });
      this.turns.ended(cancelled, now);
      return cancelled;
    }
    const requested = requestCancel.get({ id, now }) as TaskValues | undefined;
    if (requested !== undefined) {
      this.events.logTask('task.cancel_requested', requested, now);
      return requested;
    }
    return byId.get(id) as TaskValues | undefined;
  }

  /** One conditional UPDATE, so two concurrent readers cannot both be first. */
  markResultRead(id: string, now: number): boolean {
    return this.markReadTx.immediate(id, now);
  }

  countUnreadResults(): number {
    return (this.statements.countUnread.get() as { n: number }).n;
  }

  countRunningWithKey(key: string): number {
    return (this.statements.runningWithKey.get(key) as { n: number }).n;
  }
}

/**
 * Builds one of a bounded set of SQL variants (4 optional filters × cursor = 32, the state filter
 * with its partial index's term, state-indexes.ts).
 */
export function buildListQuery(filter: S.TaskFilter): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (filter.state !== undefined) {
    const term = stateIndexTerm(filter.state);
    if (term !== undefined) conditions.push(term);
  }
  for (const [field, column] of LIST_FILTERS) {
    const value = filter[field];
    if (value === undefined) continue;
    conditions.push(`${column} = ?`);
    params.push(value);
  }
  if (filter.cursor !== undefined) {
    conditions.push('id < ?');
    params.push(decodeCursor(filter.cursor));
  }
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  return { sql: `SELECT ${TASK_COLUMNS} FROM tasks ${where} ORDER BY id DESC LIMIT ?`, params };
}
