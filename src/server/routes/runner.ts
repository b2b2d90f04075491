// v1 runner routes: hello, claim (batch long poll), heartbeat and finish, all lease-fenced.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody } from '../../protocol/errors.ts';
import {
  ClaimBody,
  ClaimReply,
  FinishBatchBody,
  FinishBatchReply,
  FinishBody,
  FinishReply,
  HeartbeatBody,
  HeartbeatReply,
  HelloBody,
  HelloReply,
} from '../../protocol/runner.ts';
import type { LeaseService } from '../queue/lease-service.ts';
import { connectionSignal } from './connection-signal.ts';
import { finishBatch } from './finish-batch.ts';
import { assertRunner } from './runner-binding.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

export function registerRunnerRoutes(fastify: FastifyInstance, leases: LeaseService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const config = { access: 'runner' } as const;
  const tags = ['runner'];

  app.post(
    '/v1/runner/hello',
    { config, schema: { tags, body: HelloBody, response: { 200: HelloReply, ...errors } } },
    async (request) => {
      assertRunner(request, request.body.name);
      return leases.hello(request.body);
    },
  );

  app.post(
    '/v1/runner/claim',
    { config, schema: { tags, body: ClaimBody, response: { 200: ClaimReply, ...errors } } },
    async (request, reply) => {
      assertRunner(request, request.body.runner);
      return leases.claimTasks(request.body, connectionSignal(reply));
    },
  );

  app.post(
    '/v1/runner/heartbeat',
    { config, schema: { tags, body: HeartbeatBody, response: { 200: HeartbeatReply, ...errors } } },
    async (request) => {
      assertRunner(request, request.body.runner);
      return leases.heartbeat(request.body);
    },
  );

  // One outcome (`{taskId, leaseToken, outcome}`, answered with the task, as runners always sent)
  // or a batch (`{results: [...]}`, answered per item): see finish-batch.ts.
  const finishSchema = {
    tags,
    body: Type.Union([FinishBody, FinishBatchBody]),
    response: { 200: Type.Union([FinishReply, FinishBatchReply]), ...errors },
  };
  // A token bound to one runner finishes only that runner's leases: checked by the finish itself,
  // so a successful finish pays no extra read (runner-binding.ts explains the rule).
  app.post('/v1/runner/finish', { config, schema: finishSchema }, async (request) => {
    const { body } = request;
    const bound = request.principal?.runner;
    if ('results' in body) return { results: await finishBatch(body.results, leases, bound) };
    return { task: await leases.finishAttempt(body, bound) };
  });
}
