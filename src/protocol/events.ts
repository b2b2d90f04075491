// The event log on the wire: one append-only record of every state change, attempt, lease expiry,
// cancellation, retry and callback, read forward with a cursor (`GET /v1/events`).
import { Type, type Static } from 'typebox';
import { Kind, TaskState } from './tasks.ts';

/**
 * Types the server itself writes. The legacy five keep their compat.md names; runners and later
 * features (callbacks, approvals) may add others, so readers must accept any type string.
 */
export const EVENT_TYPES = [
  'task.created',
  'task.started',
  'task.completed',
  'task.failed',
  'task.cancelled',
  'task.cancel_requested',
  'task.lost',
  'task.retrying',
  'task.reconciled',
  'lease.expired',
  'lease.released',
  'retention.pruned',
  'schedule.created',
  'schedule.deleted',
  'schedule.fired',
  'schedule.skipped',
  'schedule.failed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const EventTypeName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });

export const Event = Type.Object({
  /** Sequence number: increases with every append; the cursor of `GET /v1/events?after=`. */
  id: Type.Integer(),
  type: Type.String(),
  at: Type.Integer(),
  taskId: Type.Optional(Type.String()),
  taskKind: Type.Optional(Kind),
  /** The task's state right after the event. */
  taskState: Type.Optional(TaskState),
  runner: Type.Optional(Type.String()),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type Event = Static<typeof Event>;

export const EventList = Type.Object({
  events: Type.Array(Event),
  /** Pass as `after` to read on; absent when the page was empty. */
  nextCursor: Type.Optional(Type.Integer()),
});
export type EventList = Static<typeof EventList>;

export const EventQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0 })),
    type: Type.Optional(EventTypeName),
    taskId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
export type EventQuery = Static<typeof EventQuery>;
