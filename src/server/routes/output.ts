// Live output routes: the runner's append, a client's long-poll read by seq, and the Server-Sent
// Events stream of one task's state changes and output, resumable with Last-Event-ID.
import { Type } from 'typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, ErrorBody } from '../../protocol/errors.ts';
import { AppendOutputBody, AppendOutputReply, LogPage } from '../../protocol/output.ts';
import { LIMITS } from '../../protocol/tasks.ts';
import type { Store } from '../../store/types.ts';
import type { OutputService } from '../queue/output-service.ts';
import type { WaiterHub } from '../queue/waiters.ts';
import {
  followTask,
  formatCursor,
  parseCursor,
  type FollowMessage,
} from '../queue/task-follower.ts';
import { connectionSignal } from './connection-signal.ts';
import { assertLeaseHolder } from './runner-binding.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const LogsQuery = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0 })),
  wait: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.waitMs.max })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});
const EventsHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 64 })),
});

/** A comment line every 15 s keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

export interface OutputRouteDeps {
  output: OutputService;
  store: Store;
  hub: WaiterHub;
}

export function registerOutputRoutes(fastify: FastifyInstance, deps: OutputRouteDeps): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/v1/runner/logs',
    {
      config: { access: 'runner' },
      schema: {
        tags: ['runner'],
        body: AppendOutputBody,
        response: { 200: AppendOutputReply, ...errors },
      },
    },
    async (request) => {
      await assertLeaseHolder(request, request.body.taskId, (id) => deps.store.getLease(id));
      return deps.output.append(request.body);
    },
  );

  app.get(
    '/v1/tasks/:id/logs',
    {
      config: { access: 'client' },
      schema: {
        tags: ['tasks'],
        summary:
          'Output chunks after a seq; with wait, holds until there are more or the task ends',
        params: IdParams,
        querystring: LogsQuery,
        response: { 200: LogPage, ...errors },
      },
    },
    async (request, reply) => {
      const { after = 0, wait = 0, limit = 500 } = request.query;
      const signal = connectionSignal(reply);
      return deps.output.read(request.params.id, after, { waitMs: wait, limit, signal });
    },
  );

  app.get(
    '/v1/tasks/:id/events',
    {
      config: { access: 'client' },
      schema: {
        tags: ['tasks'],
        summary: 'Server-Sent Events: state changes and output until the task ends',
        params: IdParams,
        headers: EventsHeaders,
      },
    },
    async (request, reply) => {
      const resume = request.headers['last-event-id'];
      const cursor = resume === undefined ? { eventId: 0, seq: 0 } : parseCursor(resume);
      if (cursor === undefined) {
        throw new AppError('bad_request', 'headers.last-event-id: must be <eventId>.<seq>');
      }
      if ((await deps.store.getTask(request.params.id)) === undefined) {
        throw new AppError('not_found', `Task ${request.params.id} not found`);
      }
      const signal = connectionSignal(reply);
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const messages = followTask(deps, request.params.id, cursor, {
        idleMs: KEEP_ALIVE_MS,
        signal,
      });
      await stream(reply, messages);
    },
  );
}

async function stream(reply: FastifyReply, messages: AsyncGenerator<FollowMessage>): Promise<void> {
  const raw = reply.raw;
  try {
    for await (const message of messages) raw.write(frame(message));
  } catch (err) {
    reply.log.error({ err }, 'task event stream failed');
    raw.write(`event: error\ndata: ${JSON.stringify({ message: 'the stream failed' })}\n\n`);
  } finally {
    raw.end();
  }
}

/** One SSE frame. JSON never holds a raw newline, so each payload fits one `data:` line. */
function frame(message: FollowMessage): string {
  if (message.kind === 'idle') return ': keep-alive\n\n';
  const id = `id: ${formatCursor(message.cursor)}\n`;
  if (message.kind === 'end') return `${id}event: end\ndata: {}\n\n`;
  const data = message.kind === 'state' ? message.event : message.chunk;
  return `${id}event: ${message.kind}\ndata: ${JSON.stringify(data)}\n\n`;
}
