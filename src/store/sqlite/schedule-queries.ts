// Schedules in the SQLite store: create, read, list, delete, and firing a due slot. Firing is one
// BEGIN IMMEDIATE transaction: the compare-and-set on next_run_at, then the task (through the
// task queries, so sessions, callbacks and events behave as for any create) or the skip.
import type Database from 'better-sqlite3';
import { isTerminal, type TaskState } from '../../protocol/tasks.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import type * as S from '../types.ts';
import { prepareStatements, type Prepared, type Transaction } from './statements.ts';
import type { EventLog } from './event-log.ts';
import type { TaskQueries } from './task-queries.ts';
import { scheduleFromRow as fromRow, type ScheduleRow as SharedRow } from '../schedule-rows.ts';

const SQL = {
  insert: `INSERT INTO schedules (id, name, cron, timezone, overlap, template, enabled,
      next_run_at, created_at, updated_at)
    VALUES (@id, @name, @cron, @timezone, @overlap, @template, @enabled, @nextRunAt, @now, @now)
    RETURNING *`,
  byId: 'SELECT * FROM schedules WHERE id = ?',
  page: 'SELECT * FROM schedules ORDER BY id DESC LIMIT ?',
  pageBelow: 'SELECT * FROM schedules WHERE id < ? ORDER BY id DESC LIMIT ?',
  delete: 'DELETE FROM schedules WHERE id = ?',
  due: `SELECT * FROM schedules WHERE next_run_at IS NOT NULL AND next_run_at <= ?
    ORDER BY next_run_at, id LIMIT ?`,
  earliest: 'SELECT MIN(next_run_at) AS at FROM schedules WHERE next_run_at IS NOT NULL',
  // The compare-and-set: only the caller that read this slot moves it on.
  advance: `UPDATE schedules SET next_run_at = @nextRunAt, updated_at = @now
    WHERE id = @id AND next_run_at = @expected RETURNING *`,
  taskState: 'SELECT state FROM tasks WHERE id = ?',
  recordFired: `UPDATE schedules SET last_run_at = @now, last_task_id = @taskId, last_error = NULL,
      fired = fired + 1 WHERE id = @id RETURNING *`,
  recordSkipped: `UPDATE schedules SET last_skipped_at = @now, skipped = skipped + 1
    WHERE id = @id RETURNING *`,
  recordFailed: 'UPDATE schedules SET last_error = @error WHERE id = @id RETURNING *',
} as const;

type ScheduleRow = SharedRow<string, number>;

export class ScheduleQueries {
  private readonly statements: Prepared<typeof SQL>;
  private readonly createTx: Transaction<[S.NewSchedule, number], ScheduleRow>;
  private readonly deleteTx: Transaction<[string, number], boolean>;
  private readonly fireTx: Transaction<[S.FireScheduleRequest], S.FireScheduleResult>;

  constructor(
    db: Database.Database,
    private readonly events: EventLog,
    private readonly tasks: TaskQueries,
  ) {
    this.statements = prepareStatements(db, SQL);
    this.createTx = db.transaction((schedule: S.NewSchedule, now: number) => {
      const row = this.statements.insert.get(insertParams(schedule, now)) as ScheduleRow;
      const data = { scheduleId: row.id, cron: row.cron, ...(row.name ? { name: row.name } : {}) };
      this.events.append({ type: 'schedule.created', data }, now);
      return row;
    });
    this.deleteTx = db.transaction((id: string, now: number) => {
      if (this.statements.delete.run(id).changes === 0) return false;
      this.events.append({ type: 'schedule.deleted', data: { scheduleId: id } }, now);
      return true;
    });
    this.fireTx = db.transaction((req: S.FireScheduleRequest) => this.fireInTx(req));
  }

  create(schedule: S.NewSchedule, now: number): S.StoredSchedule {
    return scheduleFromRow(this.createTx.immediate(schedule, now));
  }

  get(id: string): S.StoredSchedule | undefined {
    const row = this.statements.byId.get(id) as ScheduleRow | undefined;
    return row === undefined ? undefined : scheduleFromRow(row);
  }

  /** Newest first; reads one row past the page to learn whether there is another. */
  list(filter: S.ScheduleFilter): S.SchedulePage {
    const limit = Math.max(1, Math.trunc(filter.limit));
    const rows = (
      filter.cursor === undefined
        ? this.statements.page.all(limit + 1)
        : this.statements.pageBelow.all(decodeCursor(filter.cursor), limit + 1)
    ) as ScheduleRow[];
    const schedules = rows.slice(0, limit).map(scheduleFromRow);
    const last = schedules.at(-1);
    return rows.length > limit && last !== undefined
      ? { schedules, nextCursor: encodeCursor(last.id) }
      : { schedules };
  }

  delete(id: string, now: number): boolean {
    return this.deleteTx.immediate(id, now);
  }

  findDue(now: number, limit: number): S.StoredSchedule[] {
    const rows = this.statements.due.all(now, Math.max(1, Math.trunc(limit))) as ScheduleRow[];
    return rows.map(scheduleFromRow);
  }

  nextRunAt(): number | undefined {
    return (this.statements.earliest.get() as { at: number | null }).at ?? undefined;
  }

  fire(req: S.FireScheduleRequest): S.FireScheduleResult {
    return this.fireTx.immediate(req);
  }

  private fireInTx(req: S.FireScheduleRequest): S.FireScheduleResult {
    const { id, now } = req;
    const slot = req.expectedNextRunAt;
    const advanced = this.statements.advance.get({
      id,
      now,
      expected: slot,
      nextRunAt: req.nextRunAt ?? null,
    }) as ScheduleRow | undefined;
    if (advanced === undefined) return { result: 'stale' };
    if (req.task === undefined) {
      const error = req.error ?? 'the task could not be built from the template';
      const row = this.statements.recordFailed.get({ id, error }) as ScheduleRow;
      this.events.append({ type: 'schedule.failed', data: { scheduleId: id, slot, error } }, now);
      return { result: 'failed', schedule: scheduleFromRow(row) };
    }
    const previousTaskId = this.unfinishedLastTask(advanced);
    if (previousTaskId !== undefined) {
      const row = this.statements.recordSkipped.get({ id, now }) as ScheduleRow;
      const data = { scheduleId: id, slot, previousTaskId };
      this.events.append({ type: 'schedule.skipped', data }, now);
      return { result: 'skipped', schedule: scheduleFromRow(row), previousTaskId };
    }
    const { task } = this.tasks.createInTx(req.task, now);
    const row = this.statements.recordFired.get({ id, now, taskId: task.id }) as ScheduleRow;
    const data = { scheduleId: id, slot };
    this.events.append({ type: 'schedule.fired', taskId: task.id, data }, now);
    return { result: 'fired', schedule: scheduleFromRow(row), task };
  }

  /** With overlap `skip`, the last task if it has not ended. A pruned task had ended (only
   * terminal tasks are ever pruned), so a missing one lets the slot fire. */
  private unfinishedLastTask(row: ScheduleRow): string | undefined {
    if (row.overlap !== 'skip' || row.last_task_id === null) return undefined;
    const task = this.statements.taskState.get(row.last_task_id) as { state: string } | undefined;
    if (task === undefined || isTerminal(task.state as TaskState)) return undefined;
    return row.last_task_id;
  }
}

function insertParams(schedule: S.NewSchedule, now: number): Record<string, unknown> {
  return {
    id: schedule.id,
    name: schedule.name ?? null,
    cron: schedule.cron,
    timezone: schedule.timezone ?? null,
    overlap: schedule.overlap,
    template: JSON.stringify(schedule.task),
    enabled: schedule.enabled ? 1 : 0,
    nextRunAt: schedule.enabled ? (schedule.nextRunAt ?? null) : null,
    now,
  };
}

function scheduleFromRow(row: ScheduleRow): S.StoredSchedule {
  return fromRow(row, JSON.parse(row.template) as S.StoredSchedule['task'], row.enabled === 1);
}
