// A loopback proxy in front of the real test server that answers POST /v1/runner/logs itself: it
// stores chunks idempotently by (task, seq) as the real route does, and can be told to fail.
import { createServer, request, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppendOutputBody, OutputStream } from '../../src/protocol/output.ts';

/** `unavailable`: 503 without storing. `drop-reply`: store, then cut the connection (once). */
export type LogsMode = 'ok' | 'unavailable' | 'drop-reply' | 'lease-lost';

export interface StoredChunk {
  seq: number;
  stream: OutputStream;
  encoding: 'utf8' | 'base64';
  size: number;
  /** When it was stored (epoch ms). */
  at: number;
  /** The decoded bytes, unless the server was told not to keep them. */
  bytes?: Buffer;
}

export interface OutputServerOptions {
  /** Keep each chunk's bytes (default true); off for tests that print hundreds of MB. */
  keepBytes?: boolean;
}

export interface OutputServer {
  url: string;
  mode: LogsMode;
  /** Append requests seen, and how many were answered with a failure or a cut connection. */
  requests: number;
  failed: number;
  /** Chunks received again after they were stored: resends after a lost reply. */
  resentChunks: number;
  /** The highest `droppedBytes` any append reported. */
  droppedBytes: number;
  /** Stored chunks of one task, by seq. */
  stored(taskId: string): StoredChunk[];
  /** The bytes of one stream of a task, concatenated in seq order. */
  text(taskId: string, stream: OutputStream): Buffer;
  close(): Promise<void>;
}

export async function startOutputServer(
  upstream: string,
  opts: OutputServerOptions = {},
): Promise<OutputServer> {
  const tasks = new Map<string, Map<number, StoredChunk>>();
  const highest = new Map<string, number>();
  const agent = new Agent({ keepAlive: true });
  const state: OutputServer = {
    url: '',
    mode: 'ok',
    requests: 0,
    failed: 0,
    resentChunks: 0,
    droppedBytes: 0,
    stored: (taskId) => [...(tasks.get(taskId)?.values() ?? [])].sort((a, b) => a.seq - b.seq),
    text: (taskId, stream) =>
      Buffer.concat(
        state
          .stored(taskId)
          .filter((c) => c.stream === stream)
          .map((c) => c.bytes ?? Buffer.alloc(0)),
      ),
    close: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  function store(body: AppendOutputBody): number {
    state.droppedBytes = Math.max(state.droppedBytes, body.droppedBytes ?? 0);
    const chunks = tasks.get(body.taskId) ?? new Map<number, StoredChunk>();
    tasks.set(body.taskId, chunks);
    for (const chunk of body.chunks) {
      if (chunks.has(chunk.seq)) {
        state.resentChunks += 1;
        continue;
      }
      const encoding = chunk.encoding ?? 'utf8';
      const bytes = Buffer.from(chunk.data, encoding === 'base64' ? 'base64' : 'utf8');
      const kept = opts.keepBytes === false ? {} : { bytes };
      const stream = chunk.stream;
      const at = Date.now();
      chunks.set(chunk.seq, { seq: chunk.seq, stream, encoding, size: bytes.length, at, ...kept });
      highest.set(body.taskId, Math.max(highest.get(body.taskId) ?? 0, chunk.seq));
    }
    return highest.get(body.taskId) ?? 0;
  }

  function answerLogs(req: IncomingMessage, res: ServerResponse, text: string): void {
    state.requests += 1;
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (state.mode === 'unavailable' || state.mode === 'lease-lost') {
      state.failed += 1;
      const code = state.mode === 'unavailable' ? 'unavailable' : 'lease_lost';
      return json(state.mode === 'unavailable' ? 503 : 409, { error: { code, message: code } });
    }
    const storedThrough = store(JSON.parse(text) as AppendOutputBody);
    if (state.mode === 'drop-reply') {
      state.mode = 'ok';
      state.failed += 1;
      req.socket.destroy();
      return;
    }
    json(200, { storedThrough });
  }

  function forward(req: IncomingMessage, res: ServerResponse): void {
    const up = request(
      `${upstream}${req.url ?? '/'}`,
      { method: req.method, headers: req.headers, agent },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    // A runner that gives up a long poll releases it upstream too.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  }

  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/runner/logs') return forward(req, res);
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => answerLogs(req, res, Buffer.concat(parts).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
