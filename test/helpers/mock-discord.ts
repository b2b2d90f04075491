// A Discord-compatible API on loopback (real HTTP) that records every request: messages posted to
// `/api/v10/channels/:id/messages`, and any other POST (a webhook receiver). Tests queue answers
// (429 with retry_after, 500, 403, a held request) and wait for requests to arrive.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, as a signature is computed over it. */
  body: string;
  /** Epoch ms when the request arrived. */
  at: number;
  /** The status it was answered with; undefined while held or when the client gave up. */
  status?: number;
}

/** What to answer one request with; `hold` never answers (the client must give up or abort). */
export type MockReply =
  { status: number; body?: unknown; headers?: Record<string, string> } | { hold: true };

export interface PostedMessage {
  channel: string;
  content: string;
  allowedMentions: unknown;
  authorization: string | undefined;
  at: number;
}

export interface MockDiscord {
  /** The API base, as CALLBACK_API_BASE_URL takes it: `http://127.0.0.1:port/api/v10`. */
  apiBaseUrl: string;
  /** The server's root, for webhook URLs: `${origin}/hook`. */
  origin: string;
  requests: RecordedRequest[];
  /** Messages the API accepted (answered 2xx), in arrival order. */
  messages(): PostedMessage[];
  /** Answers the next requests with these, in order; after them every request gets a 200. */
  queue(...replies: MockReply[]): void;
  /** Resolves once `count` requests have arrived in total; fails after `timeoutMs`. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Forgets recorded requests and queued answers. */
  reset(): void;
  close(): Promise<void>;
}

const MESSAGES = /^\/api\/v10\/channels\/([^/]+)\/messages$/;

/** @example const discord = await startMockDiscord(); discord.queue({ status: 429, body: { retry_after: 0.3 } }); */
export async function startMockDiscord(): Promise<MockDiscord> {
  const requests: RecordedRequest[] = [];
  const replies: MockReply[] = [];
  const waiters = new Set<() => void>();
  let nextId = 1;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      const recorded = {
        method: req.method ?? '',
        path,
        headers: req.headers,
        body,
        at: Date.now(),
      };
      requests.push(recorded);
      for (const wake of waiters) wake();
      const reply = replies.shift() ?? defaultReply(path, body, nextId++);
      if ('hold' in reply) return;
      (recorded as RecordedRequest).status = reply.status;
      answer(res, reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    apiBaseUrl: `${origin}/api/v10`,
    origin,
    requests,
    messages: () => requests.flatMap(toMessage),
    queue: (...more) => void replies.push(...more),
    waitForRequests: (count, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (requests.length < count) return;
          cleanup();
          resolve(requests.slice(0, count));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${requests.length} of ${count} requests after ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    reset: () => {
      requests.length = 0;
      replies.length = 0;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function defaultReply(path: string, body: string, id: number): MockReply {
  const channel = MESSAGES.exec(path)?.[1];
  if (!channel) return { status: 200, body: {} };
  const content = (JSON.parse(body) as { content?: string }).content;
  return { status: 200, body: { id: String(id), channel_id: channel, content } };
}

function answer(
  res: ServerResponse,
  reply: { status: number; body?: unknown; headers?: Record<string, string> },
): void {
  res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
  res.end(JSON.stringify(reply.body ?? {}));
}

function toMessage(req: RecordedRequest): PostedMessage[] {
  const channel = MESSAGES.exec(req.path)?.[1];
  if (!channel || req.status === undefined || req.status >= 300) return [];
  const body = JSON.parse(req.body) as { content: string; allowed_mentions?: unknown };
  const authorization = req.headers.authorization;
  const message = { channel, content: body.content, allowedMentions: body.allowed_mentions };
  return [{ ...message, authorization, at: req.at }];
}
