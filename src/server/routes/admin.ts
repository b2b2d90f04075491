// Admin routes: tokens (the secret is shown once, only its hash is kept), runners and stats.
// Maintenance (retention on demand) lives with the event routes in events.ts.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, ErrorBody } from '../../protocol/errors.ts';
import { CreatedToken, CreateTokenBody, RunnerInfo, TokenInfo } from '../../protocol/auth.ts';
import { STATES } from '../../protocol/tasks.ts';
import { newId, newSecret } from '../../lib/ids.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../../store/types.ts';
import type { TaskService } from '../queue/task-service.ts';
import { hashSecret } from '../auth.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const Stats = Type.Object({
  tasks: Type.Object(Object.fromEntries(STATES.map((s) => [s, Type.Integer()]))),
  runners: Type.Object({ total: Type.Integer(), online: Type.Integer() }),
  longPolls: Type.Integer(),
  events: Type.Object({
    total: Type.Integer(),
    oldestAt: Type.Optional(Type.Integer()),
    newestAt: Type.Optional(Type.Integer()),
  }),
});

export interface AdminDeps {
  store: Store;
  tasks: TaskService;
  clock: Clock;
  /** Told after a token is revoked, so cached authentications end with it. */
  onRevoke: () => void;
}

export function registerAdminRoutes(fastify: FastifyInstance, deps: AdminDeps): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { store, tasks, clock } = deps;
  const config = { access: 'admin' } as const;

  app.post(
    '/v1/tokens',
    {
      config,
      schema: {
        tags: ['admin'],
        body: CreateTokenBody,
        response: { 201: CreatedToken, ...errors },
      },
    },
    async (request, reply) => {
      const { name, role, runner } = request.body;
      if (runner !== undefined && role !== 'runner')
        throw new AppError('bad_request', 'runner: only a runner token can be bound to a runner');
      const secret = `op_${newSecret()}`;
      const token = await store.createToken(
        { id: newId(), name, role, runner, hash: hashSecret(secret) },
        clock.now(),
      );
      return reply.status(201).send({ token, secret });
    },
  );

  app.get(
    '/v1/tokens',
    {
      config,
      schema: {
        tags: ['admin'],
        response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }), ...errors },
      },
    },
    async () => ({ tokens: await store.listTokens() }),
  );

  app.delete(
    '/v1/tokens/:id',
    {
      config,
      schema: {
        tags: ['admin'],
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
      },
    },
    async (request) => {
      if (!(await store.revokeToken(request.params.id, clock.now())))
        throw new AppError('not_found', `Token ${request.params.id} not found`);
      deps.onRevoke();
      return { revoked: true };
    },
  );

  app.get(
    '/v1/runners',
    {
      config,
      schema: {
        tags: ['admin'],
        response: { 200: Type.Object({ runners: Type.Array(RunnerInfo) }), ...errors },
      },
    },
    async () => ({ runners: await tasks.runners.list() }),
  );

  app.get(
    '/v1/stats',
    { config, schema: { tags: ['admin'], response: { 200: Stats, ...errors } } },
    async () => {
      const runners = await tasks.runners.list();
      const { total, oldestAt, newestAt } = await store.eventStats();
      return {
        tasks: await store.countTasks(),
        runners: { total: runners.length, online: runners.filter((r) => r.online).length },
        longPolls: tasks.hub.count(),
        events: { total, oldestAt, newestAt },
      };
    },
  );
}
