// v1 client routes: create, get (with wait), list and cancel tasks.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CreateTaskBody, Kind, LIMITS, Task, TaskList, TaskState } from '../../protocol/tasks.ts';
import { ErrorBody } from '../../protocol/errors.ts';
import type { TaskService } from '../queue/task-service.ts';
import { connectionSignal } from './connection-signal.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const WaitQuery = Type.Object({
  wait: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.waitMs.max })),
});
const CreateHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
});
const ListQuery = Type.Object({
  state: Type.Optional(TaskState),
  kind: Type.Optional(Kind),
  runner: Type.Optional(Type.String({ maxLength: 128 })),
  sessionKey: Type.Optional(Type.String({ maxLength: 256 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.listLimit.max })),
});
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

export function registerTaskRoutes(fastify: FastifyInstance, tasks: TaskService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const config = { access: 'client' } as const;

  app.post(
    '/v1/tasks',
    {
      config,
      schema: {
        tags: ['tasks'],
        summary: 'Create a task; with ?wait=ms, also wait for it to end',
        body: CreateTaskBody,
        headers: CreateHeaders,
        querystring: WaitQuery,
        response: { 200: Task, 201: Task, ...errors },
      },
    },
    async (request, reply) => {
      const idempotencyKey = request.headers['idempotency-key'];
      const wait = request.query.wait ?? 0;
      const { task, created } = await tasks.createTaskAndWait(
        request.body,
        { origin: 'v1', idempotencyKey },
        wait,
        wait > 0 ? connectionSignal(reply) : undefined,
      );
      return reply.status(created ? 201 : 200).send(task);
    },
  );

  app.get(
    '/v1/tasks/:id',
    {
      config,
      schema: {
        tags: ['tasks'],
        params: IdParams,
        querystring: WaitQuery,
        response: { 200: Task, ...errors },
      },
    },
    async (request, reply) =>
      tasks.getTaskWithAttempts(
        request.params.id,
        request.query.wait ?? 0,
        connectionSignal(reply),
      ),
  );

  app.get(
    '/v1/tasks',
    {
      config,
      schema: { tags: ['tasks'], querystring: ListQuery, response: { 200: TaskList, ...errors } },
    },
    async (request) =>
      tasks.listTasks({ ...request.query, limit: request.query.limit ?? LIMITS.listLimit.default }),
  );

  app.post(
    '/v1/tasks/:id/cancel',
    { config, schema: { tags: ['tasks'], params: IdParams, response: { 200: Task, ...errors } } },
    async (request) => tasks.cancelTask(request.params.id),
  );
}
