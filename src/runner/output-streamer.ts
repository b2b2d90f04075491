// Streams one attempt's live output to the server: chunks cut every 250 ms or 64 KiB, sent in seq
// order with one request in flight, spooled to disk through outages, and flushed before finish.
import { join } from 'node:path';
import { AppError } from '../protocol/errors.ts';
import type { OutputStream } from '../protocol/output.ts';
import type { Claim } from '../protocol/runner.ts';
import type { Outcome } from '../protocol/tasks.ts';
import { delay } from '../sdk/delay.ts';
import type { OutpostClient } from '../sdk/client.ts';
import { OutputChunker, type RawChunk } from './output-chunker.ts';
import { openOutputFile, type OutputFile } from './output-file.ts';
import { OutputQueue, type BatchLimits } from './output-queue.ts';
import { retryDelayMs } from './retry-delay.ts';
import type { RunnerConfig } from './config.ts';
import { errorFields, type RunnerLog } from './runner-log.ts';

/** Longest a byte waits in the runner before it is cut into a chunk (issue 4: at least every 250 ms). */
export const FLUSH_INTERVAL_MS = 250;
/**
 * With no append in flight, bytes wait only this long (enough to gather the rest of a burst), so
 * a line reaches a follower in milliseconds, not a quarter second; measured p99 went from ~260 ms.
 */
const QUIET_FLUSH_MS = 10;
/** Chunk bytes held in memory per attempt; the rest waits in the spool file. */
export const MEMORY_WINDOW_BYTES = 1024 * 1024;
/**
 * Per request: the protocol's 64 chunks, and 256 KiB of data: well under the server's default
 * 5 MiB body limit, and small enough that neither side holds megabyte strings (one bench
 * run each, 256 MiB printed: peak RSS server +73 / runner +98 MiB with 1 MiB bodies, +47 / +74
 * with 256 KiB).
 */
const BATCH_LIMITS: BatchLimits = { maxChunks: 64, maxWireBytes: 256 * 1024 };

export interface OutputStreamerDeps {
  client: OutpostClient;
  log: RunnerLog;
  /** Retry timing, the spool's bound, and whether to keep a local copy (keepOutput). */
  config: Pick<
    RunnerConfig,
    'retryBaseMs' | 'retryMaxMs' | 'dataDir' | 'outputSpoolBytes' | 'keepOutput'
  >;
}

/** The attempt whose output is streamed, as claimed. */
export type AttemptRef = Pick<Claim, 'attempt' | 'leaseToken'> & { task: { id: string } };

/** What happened to an attempt's output, for the outcome's metadata. */
export interface OutputSummary {
  chunks: number;
  /** Chunks lost for good (spool full, or refused by the server), and their bytes. */
  droppedChunks: number;
  droppedBytes: number;
  /** Chunks never stored: the flush before finish ran out of time, or the server stopped taking them. */
  unsentChunks: number;
  outputFile?: string;
}

/**
 * Opens a streamer for one attempt; feed it with `write`, end it with `close` (or `discard`).
 * @example const out = createOutputStreamer({ client, log, config }, claim);
 * ctx.onOutput = (stream, bytes) => out.write(stream, bytes); ... const summary = await out.close(5000);
 */
/**
 * The reason every abort here carries: nobody reads it (a request cut short by a stop is dropped
 * silently), and a fresh AbortError per task was measurable in a busy runner's profile.
 */
const DONE = new Error('output sending ended');

export function createOutputStreamer(deps: OutputStreamerDeps, ref: AttemptRef): OutputStreamer {
  return new OutputStreamer(deps, ref);
}

export class OutputStreamer {
  private readonly chunker = new OutputChunker((chunk) => this.enqueue(chunk));
  private readonly queue: OutputQueue;
  private readonly file?: OutputFile;
  /** Sending ended for good: lease lost, discard, or the flush deadline passed. */
  private ended = false;
  /**
   * Cuts a request or backoff in flight short when sending ends. Made only once something is sent:
   * most tasks print nothing, and an abort per task was 5 % of a busy runner's profile.
   */
  private stopper?: AbortController;
  private timer?: ReturnType<typeof setTimeout>;
  private spoolFailed = false;
  /** Chunks the server acknowledged. */
  private delivered = 0;
  private sending?: Promise<void>;
  private limits = BATCH_LIMITS;

  constructor(
    private readonly deps: OutputStreamerDeps,
    private readonly ref: AttemptRef,
  ) {
    const { dataDir, outputSpoolBytes, keepOutput } = deps.config;
    const name = `${fileSafe(ref.task.id)}-${ref.attempt}`;
    this.queue = new OutputQueue({
      spoolDir: join(dataDir, 'spool', name),
      spoolBytes: outputSpoolBytes,
      windowBytes: MEMORY_WINDOW_BYTES,
    });
    if (keepOutput) this.file = openOutputFile(join(dataDir, 'output', `${name}.log`));
  }

  /** The executor's output hook: called synchronously from the child's data events. */
  write(stream: OutputStream, bytes: Buffer): void {
    this.file?.write(bytes, this.deps.log);
    // Chunking goes on after a stop, so the outcome can count the chunks that were never sent.
    this.chunker.write(stream, bytes);
    if (this.ended) return;
    if (this.chunker.bufferedBytes() > 0) {
      // While an append is in flight, bytes gather until it returns (see kick), at most 250 ms.
      const waitMs = this.sending ? FLUSH_INTERVAL_MS : QUIET_FLUSH_MS;
      this.timer ??= setTimeout(() => this.flushNow(), waitMs);
    }
    this.kick();
  }

  /**
   * Sends what remains, waiting at most `waitMs` (the finish must not wait forever on a server
   * that is down; it has its own retries), then deletes the spool and says what became of it all.
   */
  async close(waitMs: number): Promise<OutputSummary> {
    clearTimeout(this.timer);
    this.chunker.flush(true);
    this.kick();
    // Most tasks print nothing, or their output went already: no timer, no abort, at once.
    if (this.sending !== undefined) {
      const deadline = new AbortController();
      await Promise.race([this.sending, delay(waitMs, deadline.signal)]);
      deadline.abort(DONE);
    }
    this.stop();
    return this.summary();
  }

  /** Ends at once without sending more: the lease is gone, so the server would refuse it. */
  discard(): void {
    clearTimeout(this.timer);
    this.stop();
  }

  private summary(): OutputSummary {
    const dropped = this.queue.dropped;
    const chunks = this.chunker.seq - 1;
    const written = this.file?.close(this.deps.log);
    return {
      chunks,
      droppedChunks: dropped.chunks,
      droppedBytes: dropped.bytes,
      unsentChunks: chunks - this.delivered - dropped.chunks,
      ...(written ? { outputFile: written } : {}),
    };
  }

  /** Never throws: it runs inside the child's data handler, where a throw would end the runner. */
  private enqueue(chunk: RawChunk): void {
    if (this.ended) return;
    try {
      this.queue.push(chunk);
    } catch (err) {
      if (this.spoolFailed) return;
      this.spoolFailed = true; // once per attempt: a full disk fails every write after
      const fields = { taskId: this.ref.task.id, ...errorFields(err) };
      this.deps.log('error', 'cannot spool output; chunks are dropped and counted', fields);
    }
  }

  private get stopSignal(): AbortSignal {
    if (this.stopper === undefined) {
      this.stopper = new AbortController();
      if (this.ended) this.stopper.abort(DONE);
    }
    return this.stopper.signal;
  }

  private stop(): void {
    this.ended = true;
    this.stopper?.abort(DONE);
    try {
      this.queue.clear();
    } catch (err) {
      this.deps.log('warn', 'cannot delete the output spool', errorFields(err));
    }
  }

  private flushNow(): void {
    this.timer = undefined;
    if (this.ended) return;
    this.chunker.flush();
    this.kick();
  }

  /** Starts the sender unless one runs; it keeps going until the queue is empty. */
  private kick(): void {
    if (this.sending || this.queue.size === 0 || this.ended) return;
    this.sending = this.sendAll().finally(() => {
      this.sending = undefined;
      // Bytes that gathered while it was in flight go now, not when their 250 ms timer fires.
      if (this.timer !== undefined && this.chunker.bufferedBytes() > 0) {
        clearTimeout(this.timer);
        this.flushNow();
      }
      this.kick(); // chunks that arrived after its last look
    });
  }

  private async sendAll(): Promise<void> {
    for (let failures = 0; !this.ended;) {
      const batch = this.queue.peek(this.limits);
      if (!batch) return;
      try {
        const { task, leaseToken } = this.ref;
        // The running total of dropped output rides along, so the server can mark the gap.
        const droppedBytes = this.queue.dropped.bytes;
        const body = {
          taskId: task.id,
          leaseToken,
          chunks: batch.chunks,
          ...(droppedBytes > 0 ? { droppedBytes } : {}),
        };
        await this.deps.client.appendOutput(body, { signal: this.stopSignal });
        this.queue.ack(batch.lastSeq);
        this.delivered += batch.chunks.length;
        failures = 0;
      } catch (err) {
        if (this.ended) return;
        failures += 1;
        await this.afterFailure(err, failures, batch.chunks.length);
      }
    }
  }

  /** Decides what a failed append means: stop, shrink the batch, drop a bad chunk, or back off. */
  private async afterFailure(err: unknown, failures: number, sent: number): Promise<void> {
    const fields = { taskId: this.ref.task.id, ...errorFields(err) };
    if (err instanceof AppError && (err.code === 'lease_lost' || err.code === 'not_found')) {
      this.deps.log('warn', 'the server takes no more output for this attempt', fields);
      this.stop();
    } else if (err instanceof AppError && isRefusedChunk(err.code)) {
      // One chunk at a time finds the one the server will not take; that one is dropped, counted.
      if (sent > 1) this.limits = { ...BATCH_LIMITS, maxChunks: 1 };
      else {
        this.deps.log('error', 'the server refused an output chunk; dropping it', fields);
        this.queue.refuseOldest();
      }
    } else {
      const waitMs = retryDelayMs(err, failures, this.deps.config);
      // Once per outage at warn: a long outage would otherwise log every retry.
      const level = failures === 1 ? 'warn' : 'debug';
      this.deps.log(level, 'sending output failed; spooling and retrying', { ...fields, waitMs });
      await delay(waitMs, this.stopSignal);
    }
  }
}

/**
 * The outcome with what a reader of the live output should know: where the full copy is, and
 * how many chunks are missing (seq gaps) or were never sent. Unchanged when there is nothing to say.
 */
export function withOutputMetadata(outcome: Outcome, summary: OutputSummary): Outcome {
  const extra: Record<string, unknown> = {};
  if (summary.outputFile) extra.outputFile = summary.outputFile;
  if (summary.droppedChunks > 0) {
    extra.outputDroppedChunks = summary.droppedChunks;
    extra.outputDroppedBytes = summary.droppedBytes;
  }
  if (summary.unsentChunks > 0) extra.outputUnsentChunks = summary.unsentChunks;
  if (Object.keys(extra).length === 0) return outcome;
  return { ...outcome, metadata: { ...outcome.metadata, ...extra } };
}

function isRefusedChunk(code: string): boolean {
  return code === 'bad_request' || code === 'payload_too_large';
}

/** Task ids come from the server; only safe characters reach a file name. */
function fileSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128);
}
