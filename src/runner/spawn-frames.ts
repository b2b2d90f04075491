// The wire between the runner and a spawn helper. Requests go to the helper as JSON lines; the
// helper answers in binary frames, [u32 LE payload length][u8 type][u32 LE child id][payload], so a
// child's output crosses as raw bytes: no JSON escaping or base64 of every byte of a 1 GiB task.

/** Frame types, helper → runner. Their numbers are in the helper's script too. */
export const FRAME = Object.freeze({
  /** The helper is listening; id 0, no payload. */
  ready: 0,
  /** JSON `{pid}`. */
  started: 1,
  stdout: 2,
  stderr: 3,
  /** JSON `{code, signal}`. */
  exited: 4,
  /** Both output streams ended (or were released). */
  closed: 5,
  /** JSON `{code, message}`: the spawn failed, nothing runs. */
  failed: 6,
});

export const FRAME_HEADER_BYTES = 9;

/** A request, runner → helper. `ack` returns output bytes the runner has handled (flow control). */
export type HelperRequest =
  | {
      t: 'spawn';
      id: number;
      file: string;
      args: readonly string[];
      cwd: string;
      env: Readonly<Record<string, string>>;
    }
  | { t: 'ack'; id: number; n: number }
  | { t: 'release'; id: number };

/** One JSON line; JSON.stringify escapes every newline inside strings, so a line is a request. */
export function encodeRequest(request: HelperRequest): string {
  return `${JSON.stringify(request)}\n`;
}

/**
 * Cuts a byte stream into frames. Output frames are handed on piece by piece as their bytes arrive
 * (a frame of 64 KiB nearly always spans two reads, and joining them would copy every byte once
 * more); any other frame whole. A payload is a view into the bytes read, which the channel
 * reuses for its next read: copy what must outlive the callback.
 */
export class FrameReader {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerBytes = 0;
  /** Payload bytes still to come of the current frame; -1 while reading a header. */
  private remaining = -1;
  private type = 0;
  private id = 0;
  private parts: Buffer[] = [];

  constructor(private readonly onFrame: (type: number, id: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining < 0) at = this.readHeader(chunk, at);
      else at = this.readPayload(chunk, at);
    }
  }

  private readHeader(chunk: Buffer, at: number): number {
    const end = Math.min(chunk.length, at + FRAME_HEADER_BYTES - this.headerBytes);
    this.headerBytes += chunk.copy(this.header, this.headerBytes, at, end);
    if (this.headerBytes < FRAME_HEADER_BYTES) return end;
    this.headerBytes = 0;
    this.remaining = this.header.readUInt32LE(0);
    this.type = this.header[4]!;
    this.id = this.header.readUInt32LE(5);
    if (this.remaining === 0) this.endFrame(Buffer.alloc(0));
    return end;
  }

  private readPayload(chunk: Buffer, at: number): number {
    const end = Math.min(chunk.length, at + this.remaining);
    const piece = chunk.subarray(at, end);
    this.remaining -= piece.length;
    if (this.type === FRAME.stdout || this.type === FRAME.stderr) {
      this.onFrame(this.type, this.id, piece);
      if (this.remaining === 0) this.remaining = -1;
    } else if (this.remaining > 0) {
      this.parts.push(Buffer.from(piece)); // the next read may reuse the buffer `chunk` is in
    } else {
      this.parts.push(piece);
      this.endFrame(Buffer.concat(this.parts));
    }
    return end;
  }

  private endFrame(payload: Buffer): void {
    this.parts = [];
    this.remaining = -1;
    this.onFrame(this.type, this.id, payload);
  }
}
