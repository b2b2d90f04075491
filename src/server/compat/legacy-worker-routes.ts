// Legacy runner routes: an unmodified OpenClaw worker polls `/worker/poll` and reports to
// `/worker/result`. It never heartbeats, so its lease lasts the task's timeout plus a margin.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../protocol/errors.ts';
import { clampNumber } from '../../lib/clock.ts';
import { newId } from '../../lib/ids.ts';
import type { TaskService } from '../queue/task-service.ts';
import { connectionSignal } from '../routes/connection-signal.ts';
import { isRecord, legacyTaskObject, outcomeFromLegacy } from './legacy-shapes.ts';

const config = { access: 'runner', legacy: true } as const;

/** Legacy pollers have no runner name of their own; a runner-bound token lends its name. */
function legacyRunnerName(request: FastifyRequest): string {
  return request.principal?.runner ?? 'legacy-worker';
}

export function registerLegacyWorkerRoutes(app: FastifyInstance, tasks: TaskService): void {
  app.get<{ Querystring: { wait?: string } }>(
    '/worker/poll',
    { config, schema: { hide: true } },
    async (request, reply) => {
      const waitMs = clampNumber(request.query.wait, 30_000, 1_000, 60_000);
      const claim = await tasks.claimLegacy(
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
    await tasks.finishLegacy(body.taskId, outcomeFromLegacy(body));
    return { success: true };
  });

  app.post('/worker/event', { config, schema: { hide: true } }, async (request) => {
    const body = isRecord(request.body) ? request.body : {};
    if (typeof body.type !== 'string' || body.type.trim() === '')
      throw new AppError('bad_request', 'type is required');
    const event = {
      id: newId(),
      type: body.type.trim(),
      createdAt: Date.now(),
      taskId: typeof body.taskId === 'string' ? body.taskId : null,
      details: isRecord(body.details) ? body.details : null,
      metadata: isRecord(body.metadata) ? body.metadata : null,
    };
    return { success: true, event };
  });
}
