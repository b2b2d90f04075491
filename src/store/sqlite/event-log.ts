// The event log of the SQLite store. Queries that change a task call `logTask` inside their own
// transaction, so a state change and its event commit together or not at all.
import type Database from 'better-sqlite3';
import type { Kind, TaskState } from '../../protocol/tasks.ts';
import type * as S from '../types.ts';
import { prepareStatements, StatementCache, type Prepared } from './statements.ts';
import { AT, type TaskValues } from './rows.ts';
import { eventTypeIndexTerm } from './state-indexes.ts';

const EVENT_COLUMNS = `e.id, e.type, e.at, e.task_id, e.task_kind, e.task_state, e.runner, e.data,
  t.origin, t.session_key, t.metadata`;

const SQL = {
  // Positional: binding names costs better-sqlite3 two property lookups from C++ per parameter,
  // and each task writes three events.
  insert: `INSERT INTO events (type, at, task_id, task_kind, task_state, runner, data)
    VALUES (?, ?, ?, ?, ?, ?, ?)`,
  byId: `SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN tasks t ON t.id = e.task_id
    WHERE e.id = ?`,
  taskOf: 'SELECT kind, state FROM tasks WHERE id = ?',
  total: 'SELECT COUNT(*) AS n, MIN(at) AS oldest, MAX(at) AS newest FROM events',
  // One pass over the log for both breakdowns: no index holds every event's type or state.
  byTypeAndState: `SELECT type, task_state AS state, COUNT(*) AS n FROM events
    GROUP BY type, task_state`,
} as const;

interface EventRow {
  id: number;
  type: string;
  at: number;
  task_id: string | null;
  task_kind: string | null;
  task_state: string | null;
  runner: string | null;
  data: string | null;
  origin: string | null;
  session_key: string | null;
  metadata: string | null;
}

export class EventLog {
  private readonly statements: Prepared<typeof SQL>;
  private readonly listVariants: StatementCache;

  constructor(db: Database.Database) {
    this.statements = prepareStatements(db, SQL);
    this.listVariants = new StatementCache(db);
  }

  /** Logs an event about the task whose row (after the change) is `values`. */
  logTask(type: string, values: TaskValues, now: number, data?: Record<string, unknown>): void {
    const [taskId, taskKind, , taskState] = values;
    this.insert(
      { type, taskId, runner: values[AT.runner] ?? undefined, data },
      now,
      taskKind,
      taskState,
    );
  }

  /** Appends a free-standing event; its task's kind and state are looked up when it names one. */
  append(event: S.NewEvent, now: number): S.StoredEvent {
    const task =
      event.taskId === undefined
        ? undefined
        : (this.statements.taskOf.get(event.taskId) as { kind: string; state: string } | undefined);
    const id = this.insert(event, now, task?.kind, task?.state);
    return eventFromRow(this.statements.byId.get(id) as EventRow);
  }

  private insert(event: S.NewEvent, now: number, taskKind?: string, taskState?: string): number {
    const result = this.statements.insert.run(
      event.type,
      now,
      event.taskId ?? null,
      taskKind ?? null,
      taskState ?? null,
      event.runner ?? null,
      event.data === undefined ? null : JSON.stringify(event.data),
    );
    return Number(result.lastInsertRowid);
  }

  list(filter: S.EventFilter): S.StoredEvent[] {
    const { sql, params } = buildEventListQuery(filter);
    const limit = Math.max(1, Math.trunc(filter.limit));
    const rows = this.listVariants.get(sql).all(...params, limit) as EventRow[];
    return rows.map(eventFromRow);
  }

  stats(): S.EventStats {
    const { statements } = this;
    const total = statements.total.get() as {
      n: number;
      oldest: number | null;
      newest: number | null;
    };
    const rows = statements.byTypeAndState.all() as {
      type: string;
      state: string | null;
      n: number;
    }[];
    const byType = new Map<string, number>();
    const byState = new Map<string, number>();
    for (const { type, state, n } of rows) {
      byType.set(type, (byType.get(type) ?? 0) + n);
      if (state !== null) byState.set(state, (byState.get(state) ?? 0) + n);
    }
    const stats: S.EventStats = {
      total: total.n,
      byType: sortedCounts(byType).map(([type, count]) => ({ type, count })),
      byState: sortedCounts(byState).map(([state, count]) => ({ state, count })),
    };
    if (total.oldest !== null) stats.oldestAt = total.oldest;
    if (total.newest !== null) stats.newestAt = total.newest;
    return stats;
  }
}

/** The list's SQL, without its LIMIT's value (the last parameter). */
export function buildEventListQuery(filter: S.EventFilter): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (condition: string, value: unknown) => {
    conditions.push(condition);
    params.push(value);
  };
  if (filter.after !== undefined) add('e.id > ?', filter.after);
  if (filter.type !== undefined) {
    const term = eventTypeIndexTerm(filter.type, 'e.type');
    if (term !== undefined) conditions.push(term);
    add('e.type = ?', filter.type);
  }
  if (filter.taskId !== undefined) add('e.task_id = ?', filter.taskId);
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const order = filter.order === 'desc' ? 'DESC' : 'ASC';
  const sql = `SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN tasks t ON t.id = e.task_id
      ${where} ORDER BY e.id ${order} LIMIT ?`;
  return { sql, params };
}

/** Counts in key order, as SQL's ORDER BY on the key gave them. */
function sortedCounts(counts: Map<string, number>): [string, number][] {
  return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function eventFromRow(row: EventRow): S.StoredEvent {
  const event: S.StoredEvent = { id: row.id, type: row.type, at: row.at };
  if (row.task_id !== null) event.taskId = row.task_id;
  if (row.task_kind !== null) event.taskKind = row.task_kind as Kind;
  if (row.task_state !== null) event.taskState = row.task_state as TaskState;
  if (row.runner !== null) event.runner = row.runner;
  if (row.data !== null) event.data = JSON.parse(row.data) as Record<string, unknown>;
  if (row.origin !== null) {
    const task: NonNullable<S.StoredEvent['task']> = { origin: row.origin as S.TaskOrigin };
    if (row.session_key !== null) task.sessionKey = row.session_key;
    if (row.metadata !== null) task.metadata = JSON.parse(row.metadata) as Record<string, unknown>;
    event.task = task;
  }
  return event;
}
