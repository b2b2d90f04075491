// v1 session routes: list, show, reset and resume agent sessions; the recent sessions a runner
// reports from its CLI storage, and the runner's reports: those sessions, and a running turn's id.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody } from '../../protocol/errors.ts';
import {
  AgentName,
  RecentSessionList,
  ReportAgentSessionsBody,
  ReportAgentSessionsReply,
  ResumeSessionBody,
  Session,
  SessionList,
} from '../../protocol/agents.ts';
import { TurnSessionBody, TurnSessionReply } from '../../protocol/runner.ts';
import type { SessionService } from '../queue/session-service.ts';
import { assertLeaseHolder, assertRunner, type LeaseLookup } from './runner-binding.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const KeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: 256 }) });
const AgentQuery = Type.Object({ agent: Type.Optional(AgentName) });
const ListQuery = Type.Object({
  agent: Type.Optional(AgentName),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
});
const ResetBody = Type.Object({ agent: Type.Optional(AgentName) }, { additionalProperties: false });
const RecentQuery = Type.Object({
  agent: Type.Optional(AgentName),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
});

export function registerSessionRoutes(
  fastify: FastifyInstance,
  sessions: SessionService,
  getLease: LeaseLookup,
): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const config = { access: 'client' } as const;
  const tags = ['sessions'];

  app.get(
    '/v1/sessions',
    { config, schema: { tags, querystring: ListQuery, response: { 200: SessionList, ...errors } } },
    async (request) => ({
      sessions: await sessions.list({
        agent: request.query.agent,
        limit: request.query.limit ?? 50,
      }),
    }),
  );

  app.get(
    '/v1/sessions/:key',
    {
      config,
      schema: {
        tags,
        summary: "A key's session for each agent (or one, with ?agent=)",
        params: KeyParams,
        querystring: AgentQuery,
        response: { 200: SessionList, ...errors },
      },
    },
    async (request) => ({ sessions: await sessions.show(request.params.key, request.query.agent) }),
  );

  app.post(
    '/v1/sessions/:key/reset',
    {
      config,
      schema: {
        tags,
        summary: 'Forget the conversation: the next turn starts fresh (every agent, or one)',
        params: KeyParams,
        body: Type.Optional(ResetBody),
        response: { 200: SessionList, ...errors },
      },
    },
    async (request) => ({
      sessions: await sessions.reset(request.params.key, request.body?.agent),
    }),
  );

  app.post(
    '/v1/sessions/:key/resume',
    {
      config,
      schema: {
        tags,
        summary: 'Continue a provider session, by full id or by a unique prefix',
        params: KeyParams,
        body: ResumeSessionBody,
        response: { 200: Session, ...errors },
      },
    },
    async (request) => sessions.resume(request.params.key, request.body),
  );

  app.get(
    '/v1/runners/:name/agent-sessions',
    {
      config,
      schema: {
        tags,
        summary: "Recent sessions in a runner's own CLI storage, as it last reported them",
        params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) }),
        querystring: RecentQuery,
        response: { 200: RecentSessionList, ...errors },
      },
    },
    async (request) => {
      const { agent = 'claude', limit } = request.query;
      const [list] = await sessions.recent(agent, request.params.name, limit);
      return list!;
    },
  );

  app.post(
    '/v1/runner/agent-sessions',
    {
      config: { access: 'runner' },
      schema: {
        tags: ['runner'],
        body: ReportAgentSessionsBody,
        response: { 200: ReportAgentSessionsReply, ...errors },
      },
    },
    async (request) => {
      assertRunner(request, request.body.runner);
      return { stored: await sessions.report(request.body) };
    },
  );

  // Fenced by the lease token alone, as /v1/runner/finish and /v1/runner/logs are: only the
  // runner the task was leased to was ever told the token.
  app.post(
    '/v1/runner/turn-session',
    {
      config: { access: 'runner' },
      schema: {
        tags: ['runner'],
        summary: "A running agent turn's provider session id, as soon as its CLI printed it",
        body: TurnSessionBody,
        response: { 200: TurnSessionReply, ...errors },
      },
    },
    async (request) => {
      await assertLeaseHolder(request, request.body.taskId, getLease);
      return { recorded: await sessions.recordTurnSession(request.body) };
    },
  );
}
