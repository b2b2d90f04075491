// Liveness (no auth, no internals) and readiness (the store answers).
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../protocol/errors.ts';
import type { Store } from '../../store/types.ts';

const Status = Type.Object({ status: Type.String() });

export function registerHealthRoutes(app: FastifyInstance, store: Store): void {
  app.get(
    '/health',
    { schema: { tags: ['health'], security: [], response: { 200: Status } } },
    async () => ({
      status: 'ok',
    }),
  );
  app.get(
    '/ready',
    { schema: { tags: ['health'], security: [], response: { 200: Status } } },
    async () => {
      try {
        await store.ping();
      } catch {
        throw new AppError('unavailable', 'The store is not reachable');
      }
      return { status: 'ready' };
    },
  );
}
