// The legacy OpenClaw worker API, beside /v1: one small module over the same task service.
import type { FastifyInstance } from 'fastify';
import type { TaskService } from '../queue/task-service.ts';
import { registerLegacyClientRoutes } from './legacy-client-routes.ts';
import { registerLegacyWorkerRoutes } from './legacy-worker-routes.ts';

export function registerLegacyRoutes(app: FastifyInstance, tasks: TaskService): void {
  registerLegacyClientRoutes(app, tasks);
  registerLegacyWorkerRoutes(app, tasks);
}
