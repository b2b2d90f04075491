// The legacy event routes (`GET /events`, `/events/stats`, `POST /events/maintenance`) and the
// old shapes of an event and of the stats, read from the one event log the v1 API reads too.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { STATES, type TaskState } from '../../protocol/tasks.ts';
import { clampNumber } from '../../lib/clock.ts';
import type { EventStats, StoredEvent, Store } from '../../store/types.ts';
import { runMaintenance } from '../queue/retention.ts';
import type { EventRouteDeps } from '../routes/events.ts';
import { isRecord, legacyStatus, legacyType } from './legacy-shapes.ts';

const DAY_MS = 86_400_000;

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const isState = (s: string): s is TaskState => (STATES as readonly string[]).includes(s);

/**
 * One event as the old API listed it. Dispatch fields come from what a legacy runner reported with
 * the event (`data.metadata`, from `POST /worker/event`), else from the task's own metadata.
 */
export function legacyEvent(event: StoredEvent) {
  const { metadata: reported, ...details } = event.data ?? {};
  const meta = { ...event.task?.metadata, ...(isRecord(reported) ? reported : {}) };
  return {
    id: event.id,
    type: event.type,
    createdAt: event.at,
    taskId: event.taskId ?? null,
    taskType: event.taskKind ? legacyType(event.taskKind) : text(meta.taskType),
    taskStatus: event.taskState ? legacyStatus(event.taskState) : text(meta.taskStatus),
    sessionId: text(meta.sessionId) ?? event.task?.sessionKey ?? null,
    origin: text(meta.origin),
    dispatchMode: text(meta.dispatchMode),
    responseMode: text(meta.responseMode),
    entrypoint: text(meta.entrypoint),
    details: Object.keys(details).length > 0 ? details : null,
  };
}

/** `{stats}` of `GET /events/stats`: statuses use the legacy names; events with no task count as unknown. */
function legacyEventStats(stats: EventStats, deps: EventRouteDeps) {
  const byStatus = new Map<string, number>();
  let withTask = 0;
  for (const { state, count } of stats.byState) {
    const status = isState(state) ? legacyStatus(state) : state;
    byStatus.set(status, (byStatus.get(status) ?? 0) + count);
    withTask += count;
  }
  if (stats.total > withTask) byStatus.set('unknown', stats.total - withTask);
  return {
    // `count` is the old API's name for the total; `total` matches the v1 vocabulary.
    count: stats.total,
    total: stats.total,
    oldestCreatedAt: stats.oldestAt ?? null,
    newestCreatedAt: stats.newestAt ?? null,
    retentionDays: deps.retention.eventRetentionMs / DAY_MS,
    maxEvents: deps.retention.maxEvents,
    byType: stats.byType,
    byStatus: [...byStatus]
      .map(([taskStatus, count]) => ({ taskStatus, count }))
      .sort((a, b) => b.count - a.count || a.taskStatus.localeCompare(b.taskStatus)),
  };
}

function optionalText(raw: unknown): string | undefined {
  return typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : undefined;
}

async function listLegacyEvents(store: Store, request: FastifyRequest) {
  const query = isRecord(request.query) ? request.query : {};
  const events = await store.listEvents({
    limit: clampNumber(query.limit, 50, 1, 500),
    taskId: optionalText(query.taskId),
    type: optionalText(query.type),
    order: 'desc',
  });
  return { events: events.map(legacyEvent) };
}

export function registerLegacyEventRoutes(app: FastifyInstance, deps: EventRouteDeps): void {
  const { store } = deps;
  const client = { access: 'client', legacy: true } as const;

  app.get('/events', { config: client, schema: { hide: true } }, (request) =>
    listLegacyEvents(store, request),
  );

  app.get('/events/stats', { config: client, schema: { hide: true } }, async () => ({
    stats: legacyEventStats(await store.eventStats(), deps),
  }));

  // Maintenance is an admin operation now; the legacy all-roles token (WORKER_TOKEN) is admin.
  const admin = { access: 'admin', legacy: true } as const;
  app.post('/events/maintenance', { config: admin, schema: { hide: true } }, async (request) => {
    // A boolean must be a boolean: `"false"` no longer means true.
    const vacuum = isRecord(request.body) && request.body.vacuum === true;
    const before = legacyEventStats(await store.eventStats(), deps);
    const report = await runMaintenance(
      { store, clock: deps.clock, settings: deps.retention },
      {
        vacuum,
      },
    );
    const after = legacyEventStats(await store.eventStats(), deps);
    const trim = {
      cutoff: report.rules.eventsBefore,
      deleted: report.pruned.events,
      deletedTasks: report.pruned.tasks,
      count: after.total,
    };
    return { vacuumed: vacuum, trim, before, after };
  });
}
