// v1 schedule routes: create (cron + task template), list, read and delete. Clients and admins.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody } from '../../protocol/errors.ts';
import {
  CreateScheduleBody,
  DeletedSchedule,
  Schedule,
  ScheduleList,
} from '../../protocol/schedules.ts';
import { LIMITS } from '../../protocol/tasks.ts';
import type { ScheduleService } from '../queue/schedule-service.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const ListQuery = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.listLimit.max })),
});
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

export function registerScheduleRoutes(fastify: FastifyInstance, schedules: ScheduleService) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const config = { access: 'client' } as const;
  const tags = ['schedules'];

  app.post(
    '/v1/schedules',
    {
      config,
      schema: {
        tags,
        summary: 'Create a schedule: a cron expression and the task each slot creates',
        body: CreateScheduleBody,
        response: { 201: Schedule, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await schedules.create(request.body)),
  );

  app.get(
    '/v1/schedules',
    {
      config,
      schema: { tags, querystring: ListQuery, response: { 200: ScheduleList, ...errors } },
    },
    async (request) =>
      schedules.list({ ...request.query, limit: request.query.limit ?? LIMITS.listLimit.default }),
  );

  app.get(
    '/v1/schedules/:id',
    { config, schema: { tags, params: IdParams, response: { 200: Schedule, ...errors } } },
    async (request) => schedules.get(request.params.id),
  );

  app.delete(
    '/v1/schedules/:id',
    { config, schema: { tags, params: IdParams, response: { 200: DeletedSchedule, ...errors } } },
    async (request) => {
      await schedules.delete(request.params.id);
      return { deleted: true };
    },
  );
}
