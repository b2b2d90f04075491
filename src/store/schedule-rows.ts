// A schedule row as both Store backends read it, and the StoredSchedule it maps to. The backends
// differ only in how the template and the flag come back: PostgreSQL gives jsonb and boolean,
// SQLite gives JSON text and 0/1; each backend passes those two decoded.
import type { Overlap } from '../protocol/schedules.ts';
import type * as S from './types.ts';

export interface ScheduleRow<Template, Flag> {
  id: string;
  name: string | null;
  cron: string;
  timezone: string | null;
  overlap: string;
  template: Template;
  enabled: Flag;
  next_run_at: number | null;
  last_run_at: number | null;
  last_task_id: string | null;
  last_skipped_at: number | null;
  last_error: string | null;
  fired: number;
  skipped: number;
  created_at: number;
  updated_at: number;
}

/** The stored schedule of a row whose template and flag are already decoded; nulls are left out. */
export function scheduleFromRow(
  row: ScheduleRow<unknown, unknown>,
  task: S.StoredSchedule['task'],
  enabled: boolean,
): S.StoredSchedule {
  const schedule: S.StoredSchedule = {
    id: row.id,
    cron: row.cron,
    overlap: row.overlap as Overlap,
    task,
    enabled,
    fired: row.fired,
    skipped: row.skipped,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  const optional = {
    name: row.name,
    timezone: row.timezone,
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    lastTaskId: row.last_task_id,
    lastSkippedAt: row.last_skipped_at,
    lastError: row.last_error,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== null) Object.assign(schedule, { [key]: value });
  }
  return schedule;
}
