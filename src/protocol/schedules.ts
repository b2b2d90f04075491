// Schedules on the wire: a cron expression and a task template (the body of POST /v1/tasks) from
// which the server creates one task per due slot.
import { Type, type Static } from 'typebox';
import { CreateTaskBody } from './tasks.ts';

export const OVERLAPS = ['skip', 'allow'] as const;
/** `skip`: a slot whose previous task has not ended yet creates nothing; `allow`: it fires anyway. */
export const Overlap = Type.Enum(OVERLAPS);
export type Overlap = (typeof OVERLAPS)[number];

export const CreateScheduleBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** Five fields (minute hour day-of-month month day-of-week) or a nickname such as `@hourly`. */
    cron: Type.String({ minLength: 1, maxLength: 256 }),
    /** An IANA time zone the cron expression is read in; UTC when absent. */
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    overlap: Type.Optional(Overlap),
    /** The task each firing creates, exactly as POST /v1/tasks takes it. */
    task: CreateTaskBody,
    /** False keeps the schedule without ever firing it. Default true. */
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateScheduleBody = Static<typeof CreateScheduleBody>;

export const Schedule = Type.Object({
  id: Type.String(),
  name: Type.Optional(Type.String()),
  cron: Type.String(),
  timezone: Type.Optional(Type.String()),
  overlap: Overlap,
  task: CreateTaskBody,
  enabled: Type.Boolean(),
  /** The next slot it fires at; absent when disabled or when the expression has no later time. */
  nextRunAt: Type.Optional(Type.Integer()),
  /** When it last created a task, and which. The task may since have been pruned by retention. */
  lastRunAt: Type.Optional(Type.Integer()),
  lastTaskId: Type.Optional(Type.String()),
  /** When a slot was last skipped because the previous task was still going (overlap `skip`). */
  lastSkippedAt: Type.Optional(Type.Integer()),
  /** Why the last slot could not create its task (e.g. a callback secret no longer configured). */
  lastError: Type.Optional(Type.String()),
  /** Tasks created so far, and slots skipped. */
  fired: Type.Integer(),
  skipped: Type.Integer(),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
});
export type Schedule = Static<typeof Schedule>;

export const ScheduleList = Type.Object({
  schedules: Type.Array(Schedule),
  nextCursor: Type.Optional(Type.String()),
});
export type ScheduleList = Static<typeof ScheduleList>;

export const DeletedSchedule = Type.Object({ deleted: Type.Boolean() });
export type DeletedSchedule = Static<typeof DeletedSchedule>;
