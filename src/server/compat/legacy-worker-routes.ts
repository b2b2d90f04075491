// Legacy runner routes: an unmodified OpenClaw worker polls `/worker/poll`, reports to
// `/worker/result` and logs callback deliveries to `/worker/event`. It never heartbeats, so its
// lease lasts the task's timeout plus a margin.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../protocol/errors.ts';
import { clampNumber } from '../../lib/clock.ts';
import { EVENT_TYPES } from '../../protocol/events.ts';
import type { NewEvent } from '../../store/types.ts';
import type { LegacyDeps } from './index.ts';
import { connectionSignal } from '../routes/connection-signal.ts';
import { assertLeaseHolder } from '../routes/runner-binding.ts';
import { isRecord, legacyTaskObject, outcomeFromLegacy } from './legacy-shapes.ts';
import { legacyEvent } from './legacy-events.ts';

const config = { access: 'runner', legacy: true } as const;

/** Legacy pollers have no runner name of their own; a runner-bound token lends its name. */
function legacyRunnerName(request: FastifyRequest): string {
  return request.principal?.runner ?? 'legacy-worker';
}

/** An audit record, not a payload: callback reports are a few hundred bytes. */
const MAX_EVENT_DATA_CHARS = 16 * 1024;
const EVENT_TYPE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

export function registerLegacyWorkerRoutes(app: FastifyInstance, deps: LegacyDeps): void {
  const { leases } = deps;
  app.get<{ Querystring: { wait?: string } }>(
    '/worker/poll',
    { config, schema: { hide: true } },
    async (request, reply) => {
      const waitMs = clampNumber(request.query.wait, 30_000, 1_000, 60_000);
      const claim = await leases.claimLegacy(
        legacyRunnerName(request),
        waitMs,
        connectionSignal(reply),
      );
      // JSON `null` when the wait ends empty, as the old server answered.
      return reply
        .type('application/json')
        .send(claim ? JSON.stringify(legacyTaskObject(claim.task)) : 'null');
    },
  );

  app.post('/worker/result', { config, schema: { hide: true } }, async (request) => {
    const body = isRecord(request.body) ? request.body : {};
    if (typeof body.taskId !== 'string' || body.taskId === '')
      throw new AppError('bad_request', 'taskId is required');
    await assertLeaseHolder(request, body.taskId, (id) => deps.store.getLease(id));
    await leases.finishLegacy(body.taskId, outcomeFromLegacy(body));
    return { success: true };
  });

  app.post('/worker/event', { config, schema: { hide: true } }, async (request) => {
    const stored = await deps.store.appendEvent(
      parseWorkerEvent(request.body, legacyRunnerName(request)),
      deps.clock.now(),
    );
    return { success: true, event: legacyEvent(stored) };
  });
}

/**
 * Old runners report callback deliveries (`callback.sent`, ...) with `details` and their view of
 * the task in `metadata`; both are kept in the event's data. Types the server records itself
 * (task.*, lease.*) are refused, so a runner token cannot forge a task's history.
 */
function parseWorkerEvent(raw: unknown, runner: string): NewEvent {
  const body = isRecord(raw) ? raw : {};
  const type = typeof body.type === 'string' ? body.type.trim() : '';
  if (type === '') throw new AppError('bad_request', 'type is required');
  if (!EVENT_TYPE_NAME.test(type))
    throw new AppError('bad_request', 'type must be 1-64 characters of A-Z a-z 0-9 _ . : -');
  if ((EVENT_TYPES as readonly string[]).includes(type))
    throw new AppError('bad_request', `type ${type} is recorded by the server itself`);
  const details = isRecord(body.details) ? body.details : {};
  const data = isRecord(body.metadata) ? { ...details, metadata: body.metadata } : details;
  if (JSON.stringify(data).length > MAX_EVENT_DATA_CHARS)
    throw new AppError('payload_too_large', 'details and metadata must be under 16 KiB together');
  const taskId = typeof body.taskId === 'string' && body.taskId !== '' ? body.taskId : undefined;
  if (taskId !== undefined && taskId.length > 128)
    throw new AppError('bad_request', 'taskId must be at most 128 characters');
  return {
    type,
    runner,
    ...(taskId ? { taskId } : {}),
    ...(Object.keys(data).length ? { data } : {}),
  };
}
