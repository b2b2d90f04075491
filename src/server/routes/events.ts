// The event log, read forward with a cursor (clients and admin), and maintenance on demand (admin).
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody } from '../../protocol/errors.ts';
import { EventList, EventQuery, type Event } from '../../protocol/events.ts';
import type { Clock } from '../../lib/clock.ts';
import type { StoredEvent, Store } from '../../store/types.ts';
import { runMaintenance, type RetentionSettings } from '../queue/retention.ts';

/** A page of the log when the caller names no limit; the schema caps it at 1000. */
const DEFAULT_EVENT_LIMIT = 100;

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody };
const Counts = Type.Object({
  tasks: Type.Integer(),
  finishedTasks: Type.Integer(),
  events: Type.Integer(),
});
const MaintenanceBody = Type.Object(
  { vacuum: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
const MaintenanceReply = Type.Object({
  pruned: Type.Object({
    tasks: Type.Integer(),
    events: Type.Integer(),
    sessions: Type.Integer(),
    batches: Type.Integer(),
  }),
  vacuumed: Type.Boolean(),
  before: Counts,
  after: Counts,
});

export interface EventRouteDeps {
  store: Store;
  clock: Clock;
  retention: RetentionSettings;
}

/** The wire event: the store's extra task metadata (for legacy readers) stays server-side. */
export function toEvent({ task: _task, ...event }: StoredEvent): Event {
  return event;
}

export function registerEventRoutes(fastify: FastifyInstance, deps: EventRouteDeps): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { store } = deps;

  app.get(
    '/v1/events',
    {
      config: { access: 'client' },
      schema: {
        tags: ['events'],
        summary: 'The event log, oldest first; pass nextCursor as `after` to read on',
        querystring: EventQuery,
        response: { 200: EventList, ...errors },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_EVENT_LIMIT;
      const events = await store.listEvents({ ...request.query, limit, order: 'asc' });
      const last = events.at(-1);
      return { events: events.map(toEvent), ...(last ? { nextCursor: last.id } : {}) };
    },
  );

  app.post(
    '/v1/maintenance',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Run retention now (every batch), and VACUUM when asked',
        body: MaintenanceBody,
        response: { 200: MaintenanceReply, ...errors },
      },
      // `curl -X POST .../v1/maintenance` sends no body: that means the defaults, not a bad request.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const vacuum = request.body.vacuum === true;
      return runMaintenance({ store, clock: deps.clock, settings: deps.retention }, { vacuum });
    },
  );
}
