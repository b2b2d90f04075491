// The runner's HTTP transport, plugged into the SDK in place of fetch: HTTP/1.1 over keep-alive
// node:net / node:tls connections, one request at a time on each. Measured on the 2-core bench
// machine, fetch (undici) costs the client 0.6–1 ms of CPU per request and node:http's
// ClientRequest and Agent about 0.1 ms; a busy runner sends a claim, an acknowledgement and a share
// of a finish per handful of tasks. Writing the head and the body as ONE string on a socket that
// keeps its listeners between requests, and reading the reply with a small parser
// (http-reply-parser.ts), cuts most of what node:http spends per request.
import net from 'node:net';
import tls from 'node:tls';
import type { FetchInit, FetchLike } from '../sdk/http.ts';
import { DeadlineWheel, type Timed } from './deadline-wheel.ts';
import { ReplyParser, type ParsedReply } from './http-reply-parser.ts';

/** One server (scheme, host and port) and its idle connections, the most recently used last. */
interface Origin {
  secure: boolean;
  host: string;
  port: number;
  /** The `host` header: the URL's host with its port when not the default. */
  hostHeader: string;
  idle: Connection[];
}

interface Exchange {
  resolve(reply: { status: number; text(): Promise<string> }): void;
  reject(err: unknown): void;
  signal: AbortSignal | undefined;
}

/** A server's keep-alive hint is cut by this much, as node's Agent does, so we close first. */
const KEEP_ALIVE_MARGIN_MS = 1_000;
/** TCP keep-alive probes on idle connections, as node's keep-alive Agent sets them. */
const TCP_KEEP_ALIVE_MS = 1_000;
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;
/** Anything a request target cannot carry as is: the URL parser then normalises the path. */
const UNSAFE_TARGET = /[^\x21-\x7e]|#/;
/** Characters node:http refuses in a header value (they would split the request). */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const HEADER_NAME = /^[!#-'*+.^-`|~0-9A-Za-z-]+$/;
const origins = new Map<string, Origin>();
const deadlines = new DeadlineWheel();

/**
 * Sends one request and reads the whole reply as text. Rejects on any network failure, on an
 * abort, and when the connection closes before the reply is complete (a cut reply is no reply).
 */
export const nodeTransport: FetchLike = (url, init) =>
  new Promise((resolve, reject) => {
    const { signal, timeoutMs } = init;
    if (signal?.aborted === true) return reject(abortError(signal));
    const { origin, target } = locate(url);
    const request = requestText(init, origin, target);
    acquire(origin).send(request, { resolve, reject, signal }, timeoutMs);
  });
// The SDK then leaves the timeout to one shared timer (deadline-wheel.ts) instead of making an
// AbortController and a timer of its own for every request (together 8 % of a busy runner's CPU).
nodeTransport.takesTimeout = true;

class Connection implements Timed {
  private readonly socket: net.Socket;
  private exchange: Exchange | undefined;
  private parser = new ReplyParser();
  private closed = false;
  /** When an idle connection is past the server's keep-alive hint (0: no hint). */
  expiresAt = 0;
  /** When the request in flight times out (epoch ms; 0: no limit or nothing in flight). */
  deadline = 0;
  private timeoutMs = 0;
  private readonly onAbort = (): void => {
    if (this.exchange?.signal) this.fail(abortError(this.exchange.signal));
  };

  constructor(private readonly origin: Origin) {
    const { host, port } = origin;
    this.socket = origin.secure
      ? tls.connect({ host, port, servername: net.isIP(host) === 0 ? host : undefined })
      : net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, TCP_KEEP_ALIVE_MS);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.onClose());
    // The server closed its side: no request may start here, though 'close' comes a tick later.
    this.socket.on('end', () => this.retire());
  }

  get usable(): boolean {
    return (
      !this.closed && this.socket.writable && (this.expiresAt === 0 || Date.now() < this.expiresAt)
    );
  }

  send(request: string, exchange: Exchange, timeoutMs: number | undefined): void {
    this.exchange = exchange;
    this.socket.ref();
    exchange.signal?.addEventListener('abort', this.onAbort);
    if (timeoutMs !== undefined) {
      this.timeoutMs = timeoutMs;
      this.deadline = Date.now() + timeoutMs;
      deadlines.watch(this);
    }
    this.socket.write(request);
  }

  timeOut(): void {
    if (this.exchange === undefined) return;
    const err = new Error(`no reply within ${this.timeoutMs} ms`);
    err.name = 'TimeoutError';
    this.fail(err);
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.exchange === undefined) return this.destroy(); // bytes nobody asked for
    let reply: ParsedReply | undefined;
    try {
      reply = this.parser.push(chunk);
    } catch (err) {
      return this.fail(err);
    }
    if (reply !== undefined) this.complete(reply);
  }

  private retire(): void {
    this.closed = true;
    const at = this.origin.idle.indexOf(this);
    if (at >= 0) this.origin.idle.splice(at, 1);
  }

  private onClose(): void {
    this.retire();
    if (this.exchange === undefined) return;
    const reply = this.parser.end();
    if (reply !== undefined) this.complete(reply);
    else this.fail(new Error('the connection closed before the reply was complete'));
  }

  private complete(reply: ParsedReply): void {
    const exchange = this.settle();
    if (reply.reusable && !this.closed) {
      const hint = reply.keepAliveMs;
      this.expiresAt = hint === undefined ? 0 : Date.now() + hint - KEEP_ALIVE_MARGIN_MS;
      this.parser = new ReplyParser();
      this.socket.unref();
      this.origin.idle.push(this);
    } else {
      this.destroy();
    }
    const text = reply.body.toString('utf8');
    exchange.resolve({ status: reply.status, text: () => Promise.resolve(text) });
  }

  private fail(err: unknown): void {
    this.destroy();
    if (this.exchange !== undefined) this.settle().reject(err);
  }

  private settle(): Exchange {
    const exchange = this.exchange!;
    this.exchange = undefined;
    this.deadline = 0;
    exchange.signal?.removeEventListener('abort', this.onAbort);
    return exchange;
  }
}

function acquire(origin: Origin): Connection {
  for (let conn = origin.idle.pop(); conn !== undefined; conn = origin.idle.pop()) {
    if (conn.usable) return conn;
    conn.destroy();
  }
  return new Connection(origin);
}

/** The origin of `url` (parsed once per server) and its request target (path and query). */
function locate(url: string): { origin: Origin; target: string } {
  const key = ORIGIN.exec(url)?.[0];
  if (key === undefined) throw new TypeError(`not an absolute URL: ${url}`);
  const origin = origins.get(key) ?? originOf(key);
  let target = url.slice(key.length);
  if (!target.startsWith('/')) target = `/${target}`;
  if (UNSAFE_TARGET.test(target)) {
    const parsed = new URL(url);
    target = parsed.pathname + parsed.search;
  }
  return { origin, target };
}

function originOf(key: string): Origin {
  const url = new URL(key);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`unsupported protocol ${url.protocol}`);
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const origin = { secure, host, port, hostHeader: url.host, idle: [] };
  origins.set(key, origin);
  return origin;
}

/** The request head and body as one string, so it leaves in one write. */
function requestText(init: FetchInit, origin: Origin, target: string): string {
  let text = `${init.method} ${target} HTTP/1.1\r\nhost: ${origin.hostHeader}\r\n`;
  for (const [name, value] of Object.entries(init.headers)) {
    if (INVALID_HEADER_VALUE.test(value) || !HEADER_NAME.test(name))
      throw new TypeError(`invalid header ${name}`);
    text += `${name}: ${value}\r\n`;
  }
  // node:http sends a length for a POST without a body too; servers then need not guess.
  if (init.body !== undefined || init.method === 'POST')
    text += `content-length: ${init.body === undefined ? 0 : Buffer.byteLength(init.body)}\r\n`;
  return `${text}connection: keep-alive\r\n\r\n${init.body ?? ''}`;
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('the request was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}
