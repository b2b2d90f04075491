// Reads one HTTP/1.1 reply off a keep-alive connection, for the runner's transport
// (node-transport.ts): the status line, the few headers that frame the body (content-length,
// chunked transfer-encoding, connection, keep-alive) and the body as bytes. Informational 1xx
// heads are skipped. Bytes past the end of the reply are a protocol error: nothing was pipelined.

/** What the parser learnt once a reply is complete. */
export interface ParsedReply {
  status: number;
  body: Buffer;
  /** False when the server closes the connection after this reply (or must, to end the body). */
  reusable: boolean;
  /** The server's `keep-alive: timeout=N` in ms, when it sent one. */
  keepAliveMs: number | undefined;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
/** A head bigger than this is not a reply from our server (node's own limit is 16 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;

type Framing = 'length' | 'chunked' | 'close';

export class ReplyParser {
  private pending: Buffer | undefined;
  private status = 0;
  private framing: Framing | undefined;
  /** Body bytes still expected: of the whole body ('length') or of the current chunk ('chunked'). */
  private remaining = 0;
  /** In 'chunked': true while reading the CRLF after a chunk's data. */
  private afterChunk = false;
  /** In 'chunked': true once the last chunk is read and only trailers remain. */
  private inTrailers = false;
  private readonly body: Buffer[] = [];
  private bodyBytes = 0;
  private reusable = true;
  private keepAliveMs: number | undefined;

  /**
   * Feeds bytes in; returns the reply once complete, else undefined. Throws on a malformed reply.
   */
  push(chunk: Buffer): ParsedReply | undefined {
    const left = this.pending;
    this.pending = left === undefined || left.length === 0 ? chunk : Buffer.concat([left, chunk]);
    if (this.framing === undefined && !this.readHead()) return undefined;
    if (this.framing === 'length') return this.readLength();
    if (this.framing === 'chunked') return this.readChunked();
    this.takeBody(this.pending.length);
    return undefined;
  }

  /** The connection closed: a reply framed by the close is now complete; any other is cut. */
  end(): ParsedReply | undefined {
    return this.framing === 'close' ? this.done() : undefined;
  }

  private readHead(): boolean {
    for (;;) {
      const head = this.takeUntil(HEAD_END, 'the reply head is too large');
      if (head === undefined) return false;
      if (this.parseHead(head)) return true;
    }
  }

  /**
   * The text before `separator`, taken from what is pending along with the separator; undefined
   * while the separator has not arrived (too much without it is an error).
   */
  private takeUntil(separator: Buffer, tooLarge: string): string | undefined {
    const buf = this.pending!;
    const at = buf.indexOf(separator);
    if (at < 0) {
      if (buf.length > MAX_HEAD_BYTES) throw new Error(tooLarge);
      return undefined;
    }
    this.pending = buf.subarray(at + separator.length);
    return buf.toString('latin1', 0, at);
  }

  /** False for an informational (1xx) head, which another head follows. */
  private parseHead(head: string): boolean {
    const lines = head.split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (match === null) throw new Error('the reply does not start with an HTTP/1.x status line');
    this.status = Number(match[1]);
    if (this.status < 200 && this.status !== 101) return false;
    let length: number | undefined;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error('the reply has a malformed header line');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = parseLength(value, length);
      else if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked\s*$/i.test(value);
      else if (name === 'connection') this.reusable &&= !/(^|,)\s*close\s*(,|$)/i.test(value);
      else if (name === 'keep-alive') this.keepAliveMs = keepAliveHint(value);
    }
    if (this.status === 204 || this.status === 304) this.frame('length', 0);
    else if (chunked) this.frame('chunked', 0);
    else if (length !== undefined) this.frame('length', length);
    else this.frame('close', 0);
    return true;
  }

  private frame(framing: Framing, remaining: number): void {
    this.framing = framing;
    this.remaining = remaining;
    if (framing === 'close') this.reusable = false;
  }

  private readLength(): ParsedReply | undefined {
    const available = this.pending!.length;
    if (available > this.remaining) throw new Error('the server sent more than its reply');
    this.takeBody(available);
    this.remaining -= available;
    return this.remaining === 0 ? this.done() : undefined;
  }

  private readChunked(): ParsedReply | undefined {
    for (;;) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, this.pending!.length);
        if (take === 0) return undefined;
        this.takeBody(take);
        this.remaining -= take;
        if (this.remaining === 0) this.afterChunk = true;
        continue;
      }
      const line = this.takeUntil(CRLF, 'a chunk header is too large');
      if (line === undefined) return undefined;
      if (this.afterChunk) {
        if (line !== '') throw new Error('a chunk is longer than its size');
        this.afterChunk = false;
      } else if (this.inTrailers) {
        if (line !== '') continue;
        if (this.pending!.length > 0) throw new Error('the server sent more than its reply');
        return this.done();
      } else {
        const size = /^[0-9a-fA-F]{1,8}/.exec(line);
        if (size === null) throw new Error('a chunk size is malformed');
        this.remaining = parseInt(size[0], 16);
        if (this.remaining === 0) this.inTrailers = true;
      }
    }
  }

  private takeBody(bytes: number): void {
    const buf = this.pending!;
    if (bytes > 0) {
      this.body.push(bytes === buf.length ? buf : buf.subarray(0, bytes));
      this.bodyBytes += bytes;
    }
    this.pending = buf.subarray(bytes);
  }

  private done(): ParsedReply {
    const body = this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body, this.bodyBytes);
    return {
      status: this.status,
      body,
      reusable: this.reusable,
      keepAliveMs: this.keepAliveMs,
    };
  }
}

function parseLength(value: string, previous: number | undefined): number {
  if (!/^\d{1,15}$/.test(value)) throw new Error('the reply has a malformed content-length');
  const length = Number(value);
  if (previous !== undefined && previous !== length)
    throw new Error('the reply has two different content-lengths');
  return length;
}

function keepAliveHint(value: string): number | undefined {
  const match = /(?:^|,)\s*timeout=(\d+)/i.exec(value);
  return match === null ? undefined : Number(match[1]) * 1000;
}
