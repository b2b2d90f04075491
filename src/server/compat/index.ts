// The legacy OpenClaw worker API, beside /v1: one small module over the same task service and log.
import type { FastifyInstance } from 'fastify';
import type { TaskService } from '../queue/task-service.ts';
import type { LeaseService } from '../queue/lease-service.ts';
import type { EventRouteDeps } from '../routes/events.ts';
import type { CallbackSettings } from '../callbacks/callback-config.ts';
import { registerLegacyClientRoutes } from './legacy-client-routes.ts';
import { registerLegacyWorkerRoutes } from './legacy-worker-routes.ts';
import { registerLegacyEventRoutes } from './legacy-events.ts';
import { registerLegacyAgentRoutes } from './legacy-agent-routes.ts';
import type { SessionService } from '../queue/session-service.ts';

import { registerLegacyNotifyRoute } from './legacy-notify.ts';

export interface LegacyDeps extends EventRouteDeps {
  tasks: TaskService;
  leases: LeaseService;
  sessions: SessionService;
  callbacks: CallbackSettings;
}

export function registerLegacyRoutes(app: FastifyInstance, deps: LegacyDeps): void {
  registerLegacyClientRoutes(app, deps.tasks, deps.retention);
  registerLegacyWorkerRoutes(app, deps);
  registerLegacyEventRoutes(app, deps);
  registerLegacyAgentRoutes(app, deps.tasks, deps.sessions);
  registerLegacyNotifyRoute(app, deps);
}
