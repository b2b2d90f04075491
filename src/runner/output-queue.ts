// The unsent chunks of one attempt, in seq order: the oldest in memory (at most `windowBytes`),
// the rest spooled to disk, so memory stays flat however much the task prints.
import type { OutputChunk } from '../protocol/output.ts';
import { encodeChunk, wireBytes, type RawChunk } from './output-chunker.ts';
import { OutputSpool, type SpoolDrops } from './output-spool.ts';

export interface OutputQueueOptions {
  spoolDir: string;
  spoolBytes: number;
  /** Chunk bytes kept in memory, the one in flight included. */
  windowBytes: number;
}

/** A request's worth of chunks, encoded. */
export interface OutputBatch {
  chunks: OutputChunk[];
  /** The highest seq in the batch; acknowledging it removes the whole batch. */
  lastSeq: number;
}

export interface BatchLimits {
  maxChunks: number;
  /** Bytes of encoded `data` in one request, so a body stays under the server's size limit. */
  maxWireBytes: number;
}

/**
 * Memory holds the oldest chunks and the spool the newer ones; a new chunk goes to memory only
 * while the spool is empty, so reading memory first, then the spool, keeps seq order.
 * @example queue.push(chunk); const batch = queue.peek({ maxChunks: 64, maxWireBytes: 1 << 20 });
 */
export class OutputQueue {
  private readonly memory: RawChunk[] = [];
  private memoryBytes = 0;
  private readonly spool: OutputSpool;
  /** Chunks lost outside the spool's bound: refused by the server, or not writable to disk. */
  private readonly lost: SpoolDrops = { chunks: 0, bytes: 0 };

  constructor(private readonly opts: OutputQueueOptions) {
    this.spool = new OutputSpool(opts.spoolDir, opts.spoolBytes);
  }

  /** Unsent chunks, in memory and on disk. */
  get size(): number {
    return this.memory.length + this.spool.size;
  }

  /** Chunk bytes held in memory right now (the bound this queue keeps). */
  get bytesInMemory(): number {
    return this.memoryBytes;
  }

  /** Chunks lost for good: dropped from the full spool, or refused by the server. */
  get dropped(): SpoolDrops {
    const { chunks, bytes } = this.spool.dropped;
    return { chunks: chunks + this.lost.chunks, bytes: bytes + this.lost.bytes };
  }

  /**
   * Queues a copy of `chunk` (its bytes may be a view the caller reuses); when the spool cannot be
   * written (disk full) it is counted lost and thrown.
   */
  push(chunk: RawChunk): void {
    if (this.spool.size === 0 && this.fits(chunk.bytes.length)) {
      return this.keep({ ...chunk, bytes: Buffer.from(chunk.bytes) });
    }
    try {
      this.spool.append(chunk);
    } catch (err) {
      this.countLost(chunk);
      throw err;
    }
  }

  /** The oldest chunks within `limits`, encoded; they stay queued until `ack`. Always at least one. */
  peek(limits: BatchLimits): OutputBatch | undefined {
    this.refill();
    let count = 0;
    let wire = 0;
    for (const raw of this.memory) {
      wire += wireBytes(raw);
      if (count > 0 && (count >= limits.maxChunks || wire > limits.maxWireBytes)) break;
      count += 1;
    }
    const chunks = this.memory.slice(0, count).map(encodeChunk);
    const last = chunks.at(-1);
    return last ? { chunks, lastSeq: last.seq } : undefined;
  }

  /** Removes every chunk up to and including `seq`: the server holds them. */
  ack(seq: number): void {
    while (this.memory.length > 0 && this.memory[0]!.seq <= seq) this.removeHead();
    this.refill();
  }

  /** Gives up on the oldest chunk (the server refused it); it counts as dropped. */
  refuseOldest(): void {
    this.refill();
    const head = this.memory[0];
    if (!head) return;
    this.countLost(head);
    this.removeHead();
  }

  private countLost(chunk: RawChunk): void {
    this.lost.chunks += 1;
    this.lost.bytes += chunk.bytes.length;
  }

  /** Forgets everything and deletes the spool files. */
  clear(): void {
    this.memory.length = 0;
    this.memoryBytes = 0;
    this.spool.clear();
  }

  private fits(length: number): boolean {
    // An empty window takes any chunk, so a window smaller than a chunk still moves.
    return this.memory.length === 0 || this.memoryBytes + length <= this.opts.windowBytes;
  }

  private keep(chunk: RawChunk): void {
    this.memory.push(chunk);
    this.memoryBytes += chunk.bytes.length;
  }

  private removeHead(): void {
    const head = this.memory.shift();
    if (head) this.memoryBytes -= head.bytes.length;
  }

  /** Moves the oldest spooled chunks into memory while they fit the window. */
  private refill(): void {
    for (let next = this.spool.peekBytes(); next !== undefined && this.fits(next);) {
      const chunk = this.spool.shift();
      if (chunk) this.keep(chunk);
      next = this.spool.peekBytes();
    }
  }
}
