// Builds the Fastify app (no listen): auth, errors, OpenAPI, the v1 routes and the legacy routes,
// all over the task service (clients) and the lease service (runners). Tests drive it with
// `app.inject()`; `outpost serve` listens on it.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError } from '../protocol/errors.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Store } from '../store/types.ts';
import { createAuthenticator, type Access, type Principal } from './auth.ts';
import { installAuth } from './auth-hook.ts';
import { installRateLimits } from './rate-limits.ts';
import { RATE_LIMIT_DEFAULTS, type RateLimitConfig, type TlsConfig } from './limits-config.ts';
import { readTlsFiles } from './tls.ts';
import { installBodyParsing } from './body-parsing.ts';
import { sendError } from './http-errors.ts';
import { TaskService } from './queue/task-service.ts';
import { LeaseService } from './queue/lease-service.ts';
import { startLeaseReaper, type LeaseReaper } from './queue/lease-reaper.ts';
import { startReplicaWakeups, type ReplicaWakeups } from './queue/replica-wakeups.ts';
import { startRetention, type RetentionLoop, type RetentionSettings } from './queue/retention.ts';
import { installDrain } from './drain.ts';
import { ScheduleService } from './queue/schedule-service.ts';
import {
  SCHEDULE_BACKSTOP_MS,
  startScheduleLoop,
  type ScheduleLoop,
} from './queue/schedule-loop.ts';
import { registerScheduleRoutes } from './routes/schedules.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerTaskRoutes } from './routes/tasks.ts';
import { registerRunnerRoutes } from './routes/runner.ts';
import { registerApprovalRoutes } from './routes/approvals.ts';
import { HoldService } from './queue/hold-service.ts';
import { registerOutputRoutes } from './routes/output.ts';
import { OutputService } from './queue/output-service.ts';
import { SessionService } from './queue/session-service.ts';
import { registerSessionRoutes } from './routes/sessions.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerIdentityRoutes } from './routes/identity.ts';
import { registerEventRoutes, type EventRouteDeps } from './routes/events.ts';
import { registerLegacyRoutes } from './compat/index.ts';
import { SERVER_VERSION } from './version.ts';
import type { ServerConfig } from './config.ts';
import { callbackSettings, type CallbackConfig } from './callbacks/callback-config.ts';
import { CallbackDispatcher } from './callbacks/callback-dispatcher.ts';

/** The part of the server config the app itself reads (not where it listens or stores). */
export type AppOptions = Pick<
  ServerConfig,
  | 'token'
  | 'leaseMs'
  | 'heartbeatMs'
  | 'legacyLeaseMarginMs'
  | 'reapIntervalMs'
  | 'maxBodyBytes'
  | keyof RetentionSettings
  | 'retentionIntervalMs'
> &
  Partial<Pick<ServerConfig, 'logLevel' | 'outputCapBytes' | 'retryBaseMs' | 'retryMaxMs'>> &
  /** How often schedules are looked at even with no slot due sooner (tests shorten it). */
  Partial<{ scheduleBackstopMs: number }> &
  Partial<CallbackConfig> &
  Partial<RateLimitConfig> &
  TlsConfig;

/** The output cap when the app is built without one (tests); `outpost serve` reads its config. */
const DEFAULT_OUTPUT_CAP = 16 * 1024 * 1024;

export interface AppDeps {
  store: Store;
  options: AppOptions;
  clock?: Clock;
}

/** A registered route and the role it needs, as the role-matrix test enumerates them. */
export interface RouteEntry {
  method: string;
  url: string;
  access: Access;
}

export type OutpostApp = FastifyInstance & {
  tasks: TaskService;
  leases: LeaseService;
  schedules: ScheduleService;
  routeTable: RouteEntry[];
};

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    legacy?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export async function createApp(deps: AppDeps): Promise<OutpostApp> {
  const { store, options } = deps;
  const clock = deps.clock ?? systemClock;
  const https = readTlsFiles(options);
  // The cast keeps one instance type: Fastify types an HTTPS server apart, but routes don't care.
  const app = Fastify({
    ...((https ? { https } : {}) as object),
    bodyLimit: options.maxBodyBytes,
    logger: options.logLevel && options.logLevel !== 'silent' ? { level: options.logLevel } : false,
    // Long polls hold requests up to 60 s; keep idle sockets longer than that so clients reuse them.
    keepAliveTimeout: 65_000,
    // A line per request would be mostly long polls; errors and lifecycle events are logged.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    // Room for ids up to the schemas' 128 characters, so a long id gets a validation message.
    routerOptions: { maxParamLength: 256 },
    // A bad URL or an over-long param fails in the router, before any route: same error shapes.
    frameworkErrors: (err, request, reply) => void sendError(err, request, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();
  const callbacks = callbackSettings(options);
  const tasks = new TaskService(store, clock, {
    callbackSecrets: { botToken: !!callbacks.botToken, webhookSecret: !!callbacks.webhookSecret },
    leaseMs: options.leaseMs,
    heartbeatMs: options.heartbeatMs,
    legacyLeaseMarginMs: options.legacyLeaseMarginMs,
    serverVersion: SERVER_VERSION,
    ...(options.retryBaseMs !== undefined && options.retryMaxMs !== undefined
      ? { retry: { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs } }
      : {}),
  });
  app.decorate('tasks', tasks);
  const leases = new LeaseService(store, clock, tasks);
  app.decorate('leases', leases);
  const schedules = new ScheduleService(store, clock, tasks);
  app.decorate('schedules', schedules);
  app.decorate('routeTable', collectRoutes(app));
  // First of the onRequest hooks, so every request (even one refused by auth) is counted.
  installDrain(app, tasks.hub);
  installBodyParsing(app);
  const countAuthFailure = await installRateLimits(app, { ...RATE_LIMIT_DEFAULTS, ...options });
  const authenticate = createAuthenticator(store, clock, options.token);
  installAuth(app, authenticate, countAuthFailure);
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      new AppError('not_found', `Route ${request.method} ${request.url} not found`),
      request,
      reply,
    ),
  );
  await registerDocs(app);
  registerHealthRoutes(app, store);
  registerTaskRoutes(app, tasks);
  registerScheduleRoutes(app, schedules);
  registerRunnerRoutes(app, leases);
  const holds = new HoldService(store, clock, (task) => tasks.announce(task));
  registerApprovalRoutes(app, holds, (id) => store.getLease(id));
  const output = new OutputService(
    store,
    tasks.hub,
    clock,
    options.outputCapBytes ?? DEFAULT_OUTPUT_CAP,
  );
  registerOutputRoutes(app, { output, store, hub: tasks.hub });
  const admin = { store, tasks, clock, onRevoke: () => authenticate.forget() };
  registerAdminRoutes(app, admin);
  registerIdentityRoutes(app, { ...admin, countAuthFailure });
  const events: EventRouteDeps = { store, clock, retention: options };
  registerEventRoutes(app, events);
  const sessions = new SessionService(store, clock);
  registerSessionRoutes(app, sessions, (id) => store.getLease(id));
  registerLegacyRoutes(app, { ...events, tasks, leases, sessions, callbacks });
  const dispatcher = new CallbackDispatcher({ store, clock, settings: callbacks, log: app.log });
  tasks.onTaskEnd((task) => dispatcher.wake(task.id));
  manageLoops(app, { tasks, leases, schedules, store, clock, dispatcher }, options);
  return app as unknown as OutpostApp;
}

/** Every route added from here on, so a test can check each one has an access rule it expects. */
function collectRoutes(app: FastifyInstance): RouteEntry[] {
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (route) => {
    const access = route.config?.access ?? 'public';
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, access });
  });
  return routes;
}

async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: { title: 'Outpost Task API', version: SERVER_VERSION },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

type LoopOptions = Pick<
  AppOptions,
  'reapIntervalMs' | 'retentionIntervalMs' | 'scheduleBackstopMs'
> &
  RetentionSettings;

interface LoopDeps {
  tasks: TaskService;
  leases: LeaseService;
  schedules: ScheduleService;
  store: Store;
  clock: Clock;
  dispatcher: CallbackDispatcher;
}

/**
 * The lease reaper, retention, schedules and the callback dispatcher run while the app is up;
 * close waits for a prune or a firing in progress and aborts deliveries in flight (the next start
 * resumes them). Slots missed while the server was down fire before it is ready.
 */
function manageLoops(app: FastifyInstance, deps: LoopDeps, options: LoopOptions): void {
  let reaper: LeaseReaper | undefined;
  let retention: RetentionLoop | undefined;
  let scheduleLoop: ScheduleLoop | undefined;
  let replicas: ReplicaWakeups | undefined;
  app.addHook('onReady', async () => {
    // A store other servers share tells this one what they change (see replica-wakeups.ts).
    const notifications = deps.store.notifications;
    if (notifications) replicas = startReplicaWakeups(deps.tasks, notifications);
    const extended = await deps.leases.extendLeasesAfterStart();
    if (extended > 0) app.log.info({ extended }, 'running leases extended after start');
    reaper = startLeaseReaper(deps.leases, options.reapIntervalMs, (err) =>
      app.log.error({ err }, 'lease reaper failed'),
    );
    retention = startRetention({
      store: deps.store,
      clock: deps.clock,
      settings: options,
      intervalMs: options.retentionIntervalMs,
      onError: (err) => app.log.error({ err }, 'retention failed'),
    });
    scheduleLoop = await startScheduleLoop({
      schedules: deps.schedules,
      clock: deps.clock,
      backstopMs: options.scheduleBackstopMs ?? SCHEDULE_BACKSTOP_MS,
      onError: (err) => app.log.error({ err }, 'schedules failed to fire'),
    });
    deps.schedules.onChange = () => scheduleLoop?.poke();
    await deps.dispatcher.start();
  });
  app.addHook('onClose', async () => {
    replicas?.stop();
    reaper?.stop();
    await retention?.stop();
    await scheduleLoop?.stop();
    await deps.dispatcher.stop();
    deps.tasks.close();
  });
}
