// The load generator's HTTP client: node:http over a keep-alive Agent, JSON in and out, no schema
// validation (cheaper per request than fetch, so the 2 cores go to the server and the runner).
import { Agent, request } from 'node:http';

export interface JsonReply {
  status: number;
  body: unknown;
}

export interface BenchHttpOptions {
  baseUrl: string;
  token: string;
  /** Sockets the agent may open at once; one per concurrent request keeps each on its own. */
  maxSockets: number;
}

/** One keep-alive connection pool to the server, authenticated with one bearer token. */
export class BenchHttp {
  readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly auth: string;

  constructor(opts: BenchHttpOptions) {
    const url = new URL(opts.baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.auth = `Bearer ${opts.token}`;
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets, scheduling: 'lifo' });
  }

  /** Sends one request; resolves with the status and parsed JSON body (undefined when empty). */
  send(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<JsonReply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = {
      authorization: this.auth,
      accept: 'application/json',
    };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    return new Promise((resolve, reject) => {
      const req = request(
        { host: this.host, port: this.port, method, path, headers, agent: this.agent, signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({
                status: res.statusCode ?? 0,
                body: text === '' ? undefined : (JSON.parse(text) as unknown),
              });
            } catch (err) {
              reject(
                new Error(
                  `${method} ${path}: reply is not JSON (${String(err)}): ${text.slice(0, 200)}`,
                ),
              );
            }
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like `send`, but rejects unless the status is 2xx. */
  async ok(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const reply = await this.send(method, path, body);
    if (reply.status < 200 || reply.status > 299) {
      throw new Error(
        `${method} ${path}: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`,
      );
    }
    return reply.body;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A field of an object reply, or undefined; replies are checked by hand, not by schema. */
export function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object'
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** The `id` and `state` of a task reply; throws when the reply is not a task. */
export function taskOf(value: unknown): { id: string; state: string } {
  const id = field(value, 'id');
  const state = field(value, 'state');
  if (typeof id !== 'string' || typeof state !== 'string') {
    throw new Error(`not a task: ${JSON.stringify(value).slice(0, 300)}`);
  }
  return { id, state };
}
