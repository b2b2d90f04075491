// A bounded first-in first-out file of output chunks on the runner's disk, for while the server
// cannot take them. Kept as segment files so the oldest can be dropped whole when the bound is hit.
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import type { OutputStream } from '../protocol/output.ts';
import type { RawChunk } from './output-chunker.ts';

/** seq (u32), stream (u8), length (u32); seq fits: 2^32 chunks of output is years of printing. */
const HEADER_BYTES = 9;
/** Segments per bound: dropping one loses at most 1/16 of the spool, and few files are open. */
const SEGMENTS_PER_BOUND = 16;

interface Segment {
  fd: number;
  path: string;
  /** Positions in the file: everything before readAt was handed back by shift(). */
  writtenAt: number;
  readAt: number;
  /** Chunks and their data bytes not yet read, counted for what a drop loses. */
  chunks: number;
  dataBytes: number;
}

export interface SpoolDrops {
  chunks: number;
  bytes: number;
}

/**
 * Appends and reads synchronously: a chunk is on disk before the output handler returns, so no
 * hidden queue grows in memory, and page-cache writes of at most 64 KiB cost microseconds.
 * @example const spool = new OutputSpool('/data/spool/t1-1', 64 << 20); spool.append(chunk);
 */
export class OutputSpool {
  private readonly segments: Segment[] = [];
  private readonly segmentBytes: number;
  private made = 0;
  /** Whether the directory may exist: most attempts never spool, and removing it cost them a tree walk. */
  private dirMade = false;
  readonly dropped: SpoolDrops = { chunks: 0, bytes: 0 };
  /** Reused for every record: a record copied into a fresh buffer was 1 GiB of garbage per GiB spooled. */
  private readonly header = Buffer.allocUnsafe(HEADER_BYTES);

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {
    this.segmentBytes = Math.max(1, Math.floor(maxBytes / SEGMENTS_PER_BOUND));
  }

  /** Unread chunks. */
  get size(): number {
    return this.segments.reduce((n, s) => n + s.chunks, 0);
  }

  /** Unread bytes on disk, headers included: what the bound limits. */
  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.writtenAt - s.readAt, 0);
  }

  /** Writes `chunk` last; then drops the oldest segments while the spool is over its bound. */
  append(chunk: RawChunk): void {
    const header = this.header;
    header.writeUInt32BE(chunk.seq, 0);
    header.writeUInt8(chunk.stream === 'stdout' ? 0 : 1, 4);
    header.writeUInt32BE(chunk.bytes.length, 5);
    const segment = this.writableSegment();
    const length = HEADER_BYTES + chunk.bytes.length;
    writeAll(segment.fd, [header, chunk.bytes], segment.writtenAt);
    segment.writtenAt += length;
    segment.chunks += 1;
    segment.dataBytes += chunk.bytes.length;
    while (this.bytes > this.maxBytes && this.segments.length > 1) this.dropOldest();
  }

  /** Length of the oldest unread chunk's data, or undefined when the spool is empty. */
  peekBytes(): number | undefined {
    const segment = this.segments[0];
    if (!segment || segment.chunks === 0) return undefined;
    const header = this.readAt(segment, HEADER_BYTES);
    return header.readUInt32BE(5);
  }

  /** Reads and removes the oldest unread chunk. */
  shift(): RawChunk | undefined {
    const segment = this.segments[0];
    if (!segment || segment.chunks === 0) return undefined;
    const header = this.readAt(segment, HEADER_BYTES);
    const length = header.readUInt32BE(5);
    const bytes = this.readAt(segment, length, HEADER_BYTES);
    const stream: OutputStream = header.readUInt8(4) === 0 ? 'stdout' : 'stderr';
    segment.readAt += HEADER_BYTES + length;
    segment.chunks -= 1;
    segment.dataBytes -= length;
    if (segment.chunks === 0) this.removeFirst();
    return { seq: header.readUInt32BE(0), stream, bytes };
  }

  /** Deletes every segment and the directory; the spool stays usable (it starts again empty). */
  clear(): void {
    while (this.segments.length > 0) this.removeFirst();
    if (!this.dirMade) return;
    rmSync(this.dir, { recursive: true, force: true });
    this.dirMade = false;
  }

  /** The newest segment while it has room; a fresh file once it is full (or none exists). */
  private writableSegment(): Segment {
    const last = this.segments.at(-1);
    if (last && last.writtenAt < this.segmentBytes) return last;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.dirMade = true;
    const path = join(this.dir, `${String(this.made++).padStart(8, '0')}.spool`);
    const segment = { fd: openSync(path, 'w+', 0o600), path, writtenAt: 0, readAt: 0 };
    this.segments.push({ ...segment, chunks: 0, dataBytes: 0 });
    return this.segments.at(-1)!;
  }

  private dropOldest(): void {
    const oldest = this.segments[0];
    if (!oldest) return;
    this.dropped.chunks += oldest.chunks;
    this.dropped.bytes += oldest.dataBytes;
    this.removeFirst();
  }

  private removeFirst(): void {
    const segment = this.segments.shift();
    if (!segment) return;
    closeSync(segment.fd);
    rmSync(segment.path, { force: true });
  }

  private readAt(segment: Segment, length: number, skip = 0): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(segment.fd, buf, got, length - got, segment.readAt + skip + got);
      if (n === 0) throw new Error(`output spool ${segment.path} ended early`);
      got += n;
    }
    return buf;
  }
}

/** Writes `parts` at `position` in one writev; a short write (a disk filling up) goes on plainly. */
function writeAll(fd: number, parts: Buffer[], position: number): void {
  const written = writevSync(fd, parts, position);
  if (written === parts.reduce((n, part) => n + part.length, 0)) return;
  const rest = Buffer.concat(parts).subarray(written);
  for (let at = 0; at < rest.length;) {
    at += writeSync(fd, rest, at, rest.length - at, position + written + at);
  }
}
