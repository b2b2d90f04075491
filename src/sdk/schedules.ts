// Schedules through the v1 API: create (a cron expression and a task template), list, read and
// delete. OutpostClient extends ScheduleMethods, so these share its one request path (`send`).
import {
  DeletedSchedule,
  Schedule,
  ScheduleList,
  type CreateScheduleBody,
} from '../protocol/schedules.ts';
import { ApprovalMethods } from './approvals.ts';

export interface ListSchedulesFilter {
  /** `nextCursor` from the previous page. */
  cursor?: string;
  /** At most this many, newest first (server default 50, maximum 500). */
  limit?: number;
}

/** The schedule methods of OutpostClient; see its class comment for how errors surface. */
export abstract class ScheduleMethods extends ApprovalMethods {
  /**
   * Creates a schedule (`POST /v1/schedules`); a bad `cron`, `timezone` or `task` rejects with
   * `bad_request` naming the field. The reply has the first `nextRunAt`.
   * @example await client.createSchedule({ cron: '0 3 * * *', timezone: 'Europe/Paris', task: { kind: 'shell', spec: { command: './backup.sh' } } });
   */
  createSchedule(body: CreateScheduleBody): Promise<Schedule> {
    return this.send(Schedule, { method: 'POST', path: '/v1/schedules', body });
  }

  /**
   * Lists schedules newest first; pass `nextCursor` back as `cursor` for the next page.
   * @example const { schedules } = await client.listSchedules();
   */
  listSchedules(filter: ListSchedulesFilter = {}): Promise<ScheduleList> {
    return this.send(ScheduleList, { method: 'GET', path: '/v1/schedules', query: { ...filter } });
  }

  /**
   * One schedule with its next run, last run and last task; `not_found` when there is none.
   * @example const { nextRunAt, lastTaskId } = await client.getSchedule(id);
   */
  getSchedule(id: string): Promise<Schedule> {
    return this.send(Schedule, { method: 'GET', path: schedulePath(id) });
  }

  /**
   * Deletes a schedule: it fires no more (the tasks it created stay); `not_found` when none.
   * @example await client.deleteSchedule(id);
   */
  deleteSchedule(id: string): Promise<DeletedSchedule> {
    return this.send(DeletedSchedule, { method: 'DELETE', path: schedulePath(id) });
  }
}

function schedulePath(id: string): string {
  return `/v1/schedules/${encodeURIComponent(id)}`;
}
