// Schedules in the PostgreSQL store: create, read, list, delete, and firing a due slot. Firing is
// one transaction: the compare-and-set on next_run_at, then the task (through the task queries,
// so sessions, callbacks and events behave as for any create) or the skip. Two servers firing the
// same slot meet at the schedule's row: the second UPDATE waits for the first to commit, then
// re-reads the row (READ COMMITTED), finds next_run_at moved on, and changes nothing.
import { isTerminal, type TaskState } from '../../protocol/tasks.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import type * as S from '../types.ts';
import type { Database, Tx } from './database.ts';
import { logEvent } from './event-log.ts';
import type { TaskQueries } from './task-queries.ts';
import { scheduleFromRow as fromRow, type ScheduleRow as SharedRow } from '../schedule-rows.ts';

const SQL = {
  insert: `INSERT INTO schedules (id, name, cron, timezone, overlap, template, enabled,
      next_run_at, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $9)
    RETURNING *`,
  byId: 'SELECT * FROM schedules WHERE id = $1',
  page: 'SELECT * FROM schedules ORDER BY id DESC LIMIT $1',
  pageBelow: 'SELECT * FROM schedules WHERE id < $1 ORDER BY id DESC LIMIT $2',
  delete: 'DELETE FROM schedules WHERE id = $1',
  due: `SELECT * FROM schedules WHERE next_run_at IS NOT NULL AND next_run_at <= $1
    ORDER BY next_run_at, id LIMIT $2`,
  earliest: 'SELECT MIN(next_run_at) AS at FROM schedules WHERE next_run_at IS NOT NULL',
  // The compare-and-set: only the caller that read this slot moves it on.
  advance: `UPDATE schedules SET next_run_at = $3, updated_at = $4
    WHERE id = $1 AND next_run_at = $2 RETURNING *`,
  taskState: 'SELECT state FROM tasks WHERE id = $1',
  recordFired: `UPDATE schedules SET last_run_at = $2, last_task_id = $3, last_error = NULL,
      fired = fired + 1 WHERE id = $1 RETURNING *`,
  recordSkipped: `UPDATE schedules SET last_skipped_at = $2, skipped = skipped + 1
    WHERE id = $1 RETURNING *`,
  recordFailed: 'UPDATE schedules SET last_error = $2 WHERE id = $1 RETURNING *',
} as const;

type ScheduleRow = SharedRow<S.StoredSchedule['task'], boolean>;

export class ScheduleQueries {
  constructor(
    private readonly db: Database,
    private readonly tasks: TaskQueries,
  ) {}

  async create(schedule: S.NewSchedule, now: number): Promise<S.StoredSchedule> {
    const row = await this.db.transaction(async (tx) => {
      const inserted = (await tx.row<ScheduleRow>(SQL.insert, insertParams(schedule, now)))!;
      const data = {
        scheduleId: inserted.id,
        cron: inserted.cron,
        ...(inserted.name ? { name: inserted.name } : {}),
      };
      logEvent(tx, { type: 'schedule.created', data }, now);
      return inserted;
    });
    return scheduleFromRow(row);
  }

  async get(id: string): Promise<S.StoredSchedule | undefined> {
    const row = await this.db.row<ScheduleRow>(SQL.byId, [id]);
    return row === undefined ? undefined : scheduleFromRow(row);
  }

  /** Newest first; reads one row past the page to learn whether there is another. */
  async list(filter: S.ScheduleFilter): Promise<S.SchedulePage> {
    const limit = Math.max(1, Math.trunc(filter.limit));
    const rows =
      filter.cursor === undefined
        ? await this.db.rows<ScheduleRow>(SQL.page, [limit + 1])
        : await this.db.rows<ScheduleRow>(SQL.pageBelow, [decodeCursor(filter.cursor), limit + 1]);
    const schedules = rows.slice(0, limit).map(scheduleFromRow);
    const last = schedules.at(-1);
    return rows.length > limit && last !== undefined
      ? { schedules, nextCursor: encodeCursor(last.id) }
      : { schedules };
  }

  delete(id: string, now: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if ((await tx.run(SQL.delete, [id])) === 0) return false;
      logEvent(tx, { type: 'schedule.deleted', data: { scheduleId: id } }, now);
      return true;
    });
  }

  async findDue(now: number, limit: number): Promise<S.StoredSchedule[]> {
    const rows = await this.db.rows<ScheduleRow>(SQL.due, [now, Math.max(1, Math.trunc(limit))]);
    return rows.map(scheduleFromRow);
  }

  async nextRunAt(): Promise<number | undefined> {
    return (await this.db.row<{ at: number | null }>(SQL.earliest))?.at ?? undefined;
  }

  fire(req: S.FireScheduleRequest): Promise<S.FireScheduleResult> {
    return this.db.transaction((tx) => this.fireInTx(tx, req));
  }

  private async fireInTx(tx: Tx, req: S.FireScheduleRequest): Promise<S.FireScheduleResult> {
    const { id, now } = req;
    const slot = req.expectedNextRunAt;
    const advanced = await tx.row<ScheduleRow>(SQL.advance, [id, slot, req.nextRunAt ?? null, now]);
    if (advanced === undefined) return { result: 'stale' };
    if (req.task === undefined) {
      const error = req.error ?? 'the task could not be built from the template';
      const row = (await tx.row<ScheduleRow>(SQL.recordFailed, [id, error]))!;
      logEvent(tx, { type: 'schedule.failed', data: { scheduleId: id, slot, error } }, now);
      return { result: 'failed', schedule: scheduleFromRow(row) };
    }
    const previousTaskId = await this.unfinishedLastTask(tx, advanced);
    if (previousTaskId !== undefined) {
      const row = (await tx.row<ScheduleRow>(SQL.recordSkipped, [id, now]))!;
      const data = { scheduleId: id, slot, previousTaskId };
      logEvent(tx, { type: 'schedule.skipped', data }, now);
      return { result: 'skipped', schedule: scheduleFromRow(row), previousTaskId };
    }
    const { task } = await this.tasks.createInTx(tx, req.task, now);
    const row = (await tx.row<ScheduleRow>(SQL.recordFired, [id, now, task.id]))!;
    const event = { type: 'schedule.fired', taskId: task.id, data: { scheduleId: id, slot } };
    logEvent(tx, event, now, task.kind, task.state);
    return { result: 'fired', schedule: scheduleFromRow(row), task };
  }

  /** With overlap `skip`, the last task if it has not ended. A pruned task had ended (only
   * terminal tasks are ever pruned), so a missing one lets the slot fire. */
  private async unfinishedLastTask(tx: Tx, row: ScheduleRow): Promise<string | undefined> {
    if (row.overlap !== 'skip' || row.last_task_id === null) return undefined;
    const task = await tx.row<{ state: string }>(SQL.taskState, [row.last_task_id]);
    if (task === undefined || isTerminal(task.state as TaskState)) return undefined;
    return row.last_task_id;
  }
}

function insertParams(schedule: S.NewSchedule, now: number): unknown[] {
  return [
    schedule.id,
    schedule.name ?? null,
    schedule.cron,
    schedule.timezone ?? null,
    schedule.overlap,
    JSON.stringify(schedule.task),
    schedule.enabled,
    schedule.enabled ? (schedule.nextRunAt ?? null) : null,
    now,
  ];
}

function scheduleFromRow(row: ScheduleRow): S.StoredSchedule {
  return fromRow(row, row.template, row.enabled);
}
