// v1 runner routes: hello, claim (batch long poll), heartbeat and finish, all lease-fenced.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, ErrorBody } from '../../protocol/errors.ts';
import {
  ClaimBody,
  ClaimReply,
  FinishBody,
  FinishReply,
  HeartbeatBody,
  HeartbeatReply,
  HelloBody,
  HelloReply,
} from '../../protocol/runner.ts';
import type { TaskService } from '../queue/task-service.ts';
import { connectionSignal } from './connection-signal.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/** A runner token is bound to one runner name; it cannot act as another runner. */
export function assertRunner(request: FastifyRequest, name: string): void {
  const bound = request.principal?.runner;
  if (bound !== undefined && bound !== name) {
    throw new AppError('forbidden', `This token belongs to runner '${bound}', not '${name}'`);
  }
}

export function registerRunnerRoutes(fastify: FastifyInstance, tasks: TaskService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const config = { access: 'runner' } as const;
  const tags = ['runner'];

  app.post(
    '/v1/runner/hello',
    { config, schema: { tags, body: HelloBody, response: { 200: HelloReply, ...errors } } },
    async (request) => {
      assertRunner(request, request.body.name);
      return tasks.hello(request.body);
    },
  );

  app.post(
    '/v1/runner/claim',
    { config, schema: { tags, body: ClaimBody, response: { 200: ClaimReply, ...errors } } },
    async (request, reply) => {
      assertRunner(request, request.body.runner);
      return { tasks: await tasks.claimTasks(request.body, connectionSignal(reply)) };
    },
  );

  app.post(
    '/v1/runner/heartbeat',
    { config, schema: { tags, body: HeartbeatBody, response: { 200: HeartbeatReply, ...errors } } },
    async (request) => {
      assertRunner(request, request.body.runner);
      return tasks.heartbeat(request.body);
    },
  );

  app.post(
    '/v1/runner/finish',
    { config, schema: { tags, body: FinishBody, response: { 200: FinishReply, ...errors } } },
    async (request) => ({ task: await tasks.finishAttempt(request.body) }),
  );
}
