// The event log of the PostgreSQL store. Queries that change a task log inside their own
// transaction; the events are written at its end, so a state change and its event commit
// together or not at all.
//
// Ordering: event ids come from an identity sequence, and readers page with "after id N". Two
// transactions could take ids 5 and 6 and commit in the other order; a reader that saw 6 first
// would skip 5 for ever. So the events of a transaction are written last, just before COMMIT,
// under a transaction-scoped advisory lock: ids are drawn and committed one transaction at a
// time, and every id below a visible one is already visible. The lock is the last one a
// transaction takes (it holds no other wait after it), so it cannot join a deadlock; it is held
// only for one INSERT and the COMMIT.
import type { Kind, TaskState } from '../../protocol/tasks.ts';
import type * as S from '../types.ts';
import type { Queryable, Tx } from './database.ts';
import type { TaskRow } from './rows.ts';

const EVENT_COLUMNS = `e.id, e.type, e.at, e.task_id, e.task_kind, e.task_state, e.runner, e.data,
  t.origin, t.session_key, t.metadata`;

const SQL = {
  insert: `INSERT INTO events (type, at, task_id, task_kind, task_state, runner, data)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
      $7::jsonb[])
    RETURNING id`,
  byId: `SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN tasks t ON t.id = e.task_id
    WHERE e.id = $1`,
  taskOf: 'SELECT kind, state FROM tasks WHERE id = $1',
  total: 'SELECT COUNT(*) AS n, MIN(at) AS oldest, MAX(at) AS newest FROM events',
  byType: 'SELECT type, COUNT(*) AS n FROM events GROUP BY type ORDER BY type',
  byState: `SELECT task_state AS state, COUNT(*) AS n FROM events WHERE task_state IS NOT NULL
    GROUP BY task_state ORDER BY task_state`,
} as const;

interface EventRow {
  id: number;
  type: string;
  at: number;
  task_id: string | null;
  task_kind: string | null;
  task_state: string | null;
  runner: string | null;
  data: Record<string, unknown> | null;
  origin: string | null;
  session_key: string | null;
  metadata: Record<string, unknown> | null;
}

/**
 * Logs an event about the task whose row (after the change) is `row`; written at commit, when
 * other servers are also told of the change (every task change logs an event).
 */
export function logTask(
  tx: Tx,
  type: string,
  row: TaskRow,
  now: number,
  data?: Record<string, unknown>,
): void {
  tx.changes.push({
    taskId: row.id,
    state: row.state as TaskState,
    runAt: row.run_at,
    kind: row.kind as Kind,
    inSession: row.session_key !== null,
    // A keyed task leaving `running` frees a slot that claim polls on other servers may wait for.
    ...(row.concurrency_key === null ? {} : { keyed: true }),
  });
  logEvent(
    tx,
    { type, taskId: row.id, runner: row.runner ?? undefined, data },
    now,
    row.kind,
    row.state,
  );
}

/**
 * Logs a free-standing event (a schedule's, say), written at commit like a task's; the caller
 * names the kind and state of the task it is about, if any, instead of a read-back as `append`.
 */
export function logEvent(
  tx: Tx,
  event: S.NewEvent,
  now: number,
  taskKind?: string,
  taskState?: string,
): void {
  tx.pendingEvents.push({
    type: event.type,
    at: now,
    taskId: event.taskId ?? null,
    taskKind: taskKind ?? null,
    taskState: taskState ?? null,
    runner: event.runner ?? null,
    data: event.data === undefined ? null : JSON.stringify(event.data),
  });
}

/** Writes the transaction's queued events under the event lock; returns their ids in order. */
export async function writePendingEvents(tx: Tx): Promise<number[]> {
  const events = tx.pendingEvents.splice(0);
  if (events.length === 0) return [];
  await tx.lock('events');
  const column = <K extends keyof (typeof events)[number]>(key: K) => events.map((e) => e[key]);
  const rows = await tx.rows<{ id: number }>(SQL.insert, [
    column('type'),
    column('at'),
    column('taskId'),
    column('taskKind'),
    column('taskState'),
    column('runner'),
    column('data'),
  ]);
  return rows.map((r) => r.id);
}

export class EventLog {
  constructor(private readonly db: Queryable) {}

  /** Appends a free-standing event in `tx`; its task's kind and state are looked up. */
  async append(tx: Tx, event: S.NewEvent, now: number): Promise<S.StoredEvent> {
    const task =
      event.taskId === undefined
        ? undefined
        : await tx.row<{ kind: string; state: string }>(SQL.taskOf, [event.taskId]);
    logEvent(tx, event, now, task?.kind, task?.state);
    const id = (await writePendingEvents(tx)).at(-1)!;
    return eventFromRow((await tx.row<EventRow>(SQL.byId, [id]))!);
  }

  async list(filter: S.EventFilter): Promise<S.StoredEvent[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    const add = (condition: string, value: unknown) => {
      params.push(value);
      conditions.push(`${condition} $${params.length}`);
    };
    if (filter.after !== undefined) add('e.id >', filter.after);
    if (filter.type !== undefined) add('e.type =', filter.type);
    if (filter.taskId !== undefined) add('e.task_id =', filter.taskId);
    const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
    const order = filter.order === 'desc' ? 'DESC' : 'ASC';
    params.push(Math.max(1, Math.trunc(filter.limit)));
    const sql = `SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN tasks t ON t.id = e.task_id
      ${where} ORDER BY e.id ${order} LIMIT $${params.length}`;
    return (await this.db.rows<EventRow>(sql, params)).map(eventFromRow);
  }

  async stats(): Promise<S.EventStats> {
    const [total, byType, byState] = await Promise.all([
      this.db.row<{ n: number; oldest: number | null; newest: number | null }>(SQL.total),
      this.db.rows<{ type: string; n: number }>(SQL.byType),
      this.db.rows<{ state: string; n: number }>(SQL.byState),
    ]);
    const stats: S.EventStats = {
      total: total!.n,
      byType: byType.map(({ type, n }) => ({ type, count: n })),
      byState: byState.map(({ state, n }) => ({ state, count: n })),
    };
    if (total!.oldest !== null) stats.oldestAt = total!.oldest;
    if (total!.newest !== null) stats.newestAt = total!.newest;
    return stats;
  }
}

function eventFromRow(row: EventRow): S.StoredEvent {
  const event: S.StoredEvent = { id: row.id, type: row.type, at: row.at };
  if (row.task_id !== null) event.taskId = row.task_id;
  if (row.task_kind !== null) event.taskKind = row.task_kind as Kind;
  if (row.task_state !== null) event.taskState = row.task_state as TaskState;
  if (row.runner !== null) event.runner = row.runner;
  if (row.data !== null) event.data = row.data;
  if (row.origin !== null) {
    const task: NonNullable<S.StoredEvent['task']> = { origin: row.origin as S.TaskOrigin };
    if (row.session_key !== null) task.sessionKey = row.session_key;
    if (row.metadata !== null) task.metadata = row.metadata;
    event.task = task;
  }
  return event;
}
