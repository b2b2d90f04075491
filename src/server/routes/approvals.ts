// Approval routes: a runner holds and resumes its own leased tasks (bound like finish); a client
// records a decision about a held task, which the runner learns from its next heartbeat.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { DecideBody } from '../../protocol/approvals.ts';
import { ErrorBody } from '../../protocol/errors.ts';
import { HoldBody, HoldReply, ResumeBody } from '../../protocol/runner.ts';
import { Task } from '../../protocol/tasks.ts';
import type { HoldService } from '../queue/hold-service.ts';
import { assertLeaseHolder, type LeaseLookup } from './runner-binding.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

export function registerApprovalRoutes(
  fastify: FastifyInstance,
  holds: HoldService,
  getLease: LeaseLookup,
): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const runner = { access: 'runner' } as const;
  const client = { access: 'client' } as const;

  app.post(
    '/v1/runner/hold',
    {
      config: runner,
      schema: { tags: ['runner'], body: HoldBody, response: { 200: HoldReply, ...errors } },
    },
    async (request) => {
      await assertLeaseHolder(request, request.body.taskId, getLease);
      return { task: await holds.hold(request.body) };
    },
  );

  app.post(
    '/v1/runner/resume',
    {
      config: runner,
      schema: { tags: ['runner'], body: ResumeBody, response: { 200: HoldReply, ...errors } },
    },
    async (request) => {
      await assertLeaseHolder(request, request.body.taskId, getLease);
      return { task: await holds.resume(request.body) };
    },
  );

  for (const decision of ['approved', 'rejected'] as const) {
    const verb = decision === 'approved' ? 'approve' : 'reject';
    app.post(
      `/v1/tasks/:id/${verb}`,
      {
        config: client,
        schema: {
          tags: ['tasks'],
          summary: `Record a person's decision to ${verb} a task its runner holds for approval`,
          params: IdParams,
          body: DecideBody,
          response: { 200: Task, ...errors },
        },
      },
      async (request) => {
        const name = request.principal?.name ?? 'unknown';
        return holds.decide(request.params.id, decision, request.body ?? {}, name);
      },
    );
  }
}
