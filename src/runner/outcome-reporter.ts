// Reports outcomes to the server, coalescing those that end close together: with no finish request
// in flight an outcome leaves at the end of the current turn of the event loop, with every other
// outcome of that turn (a claim reply's quick tasks end back to back), and waits for no timer;
// while a request is in flight, the outcomes that end meanwhile wait and leave together as one
// batch when it returns. A busy runner thus sends about one finish per round trip instead of one
// per task, and the server commits each batch once. Every outcome keeps its own retries, deadline
// and answer (report-outcome.ts).
import { AppError, toErrorCode } from '../protocol/errors.ts';
import type { FinishBatchReply, FinishBody } from '../protocol/runner.ts';
import type { Outcome } from '../protocol/tasks.ts';
import {
  afterFailure,
  isRefusedOutcome,
  type ReportDeps,
  type ReportResult,
} from './report-outcome.ts';

/** Items per batch; the server takes up to MAX_FINISH_BATCH. */
const MAX_BATCH_ITEMS = 64;
/**
 * Rough characters per batch (the server's body limit is 5 MiB by default): a big outcome goes on
 * its own rather than pushing a batch over the limit. A batch refused as too large is sent again
 * one outcome per request anyway.
 */
const MAX_BATCH_CHARS = 1024 * 1024;

interface Pending {
  body: FinishBody;
  /** Only the original outcome may be replaced, so a refused replacement cannot loop. */
  canReplace: boolean;
  failures: number;
  deadline: number;
  done(result: ReportResult): void;
}

export class OutcomeReporter {
  private readonly queue: Pending[] = [];
  private sending = false;
  /** Off once a server shows it does not take batches (it predates them): one per request then. */
  private batching = true;
  /** Finish requests sent, for tests and the bench (how well outcomes coalesce). */
  requests = 0;

  constructor(private readonly deps: ReportDeps) {}

  /** Resolves once the outcome is stored, its lease is found lost, or it is given up. Never throws. */
  report(body: FinishBody): Promise<ReportResult> {
    return new Promise((done) => {
      const deadline = Date.now() + this.deps.windowMs;
      this.enqueue({ body, canReplace: true, failures: 0, deadline, done });
    });
  }

  private enqueue(item: Pending): void {
    this.queue.push(item);
    if (this.sending) return;
    this.sending = true;
    setImmediate(() => void this.pump());
  }

  /** One request at a time; whatever queued up meanwhile is the next batch. */
  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.send(this.nextBatch());
    } finally {
      this.sending = false;
    }
  }

  private nextBatch(): Pending[] {
    if (!this.batching) return this.queue.splice(0);
    let chars = 0;
    let count = 0;
    for (const item of this.queue) {
      chars += roughChars(item.body.outcome);
      if (count > 0 && (count >= MAX_BATCH_ITEMS || chars > MAX_BATCH_CHARS)) break;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async send(batch: Pending[]): Promise<void> {
    if (batch.length === 1 || !this.batching) {
      await Promise.all(batch.map((item) => this.sendOne(item)));
      return;
    }
    let reply: FinishBatchReply;
    try {
      this.requests++;
      reply = await this.deps.client.finishAttempts(batch.map((item) => item.body));
    } catch (err) {
      if (isRefusedOutcome(err)) return this.sendSingly(batch, err);
      for (const item of batch) this.failed(item, err);
      return;
    }
    for (const [i, item] of batch.entries()) {
      const result = reply.results[i];
      if (result?.taskId !== item.body.taskId) {
        this.failed(item, new AppError('unavailable', 'the finish reply does not match the batch'));
      } else if (result.error === undefined) item.done('reported');
      else this.failed(item, new AppError(toErrorCode(result.error.code), result.error.message));
    }
  }

  /**
   * A batch the server refused (400 or 413) goes again one outcome per request, where the usual
   * handling applies to each. If none of them is refused, the batch form itself was the problem
   * (a server from before batching): stop batching for good.
   */
  private async sendSingly(batch: Pending[], err: unknown): Promise<void> {
    const refused = await Promise.all(batch.map((item) => this.sendOne(item)));
    if (err instanceof AppError && err.code === 'bad_request' && !refused.includes(true)) {
      this.batching = false;
      this.deps.log('info', 'the server does not take batched finishes; reporting one at a time');
    }
  }

  /** True when the server refused this outcome (it is then replaced and sent again). */
  private async sendOne(item: Pending): Promise<boolean> {
    try {
      this.requests++;
      await this.deps.client.finishAttempt(item.body);
      item.done('reported');
      return false;
    } catch (err) {
      this.failed(item, err);
      return isRefusedOutcome(err);
    }
  }

  private failed(item: Pending, err: unknown): void {
    item.failures++;
    const { deadline, canReplace } = item;
    const next = afterFailure(this.deps, item.body, err, item.failures, { deadline, canReplace });
    if (typeof next === 'string') return item.done(next);
    if (next.body !== item.body) item.canReplace = false;
    item.body = next.body;
    // Retries wait on their own timer, so one outcome's backoff holds up no other outcome.
    setTimeout(() => this.enqueue(item), next.waitMs);
  }
}

/** About how many characters an outcome takes in JSON; only to keep a batch under the body limit. */
function roughChars(outcome: Outcome): number {
  let chars = 512 + (outcome.stdout?.length ?? 0) + (outcome.stderr?.length ?? 0);
  chars += outcome.error?.message.length ?? 0;
  const { output } = outcome;
  if (typeof output === 'string') return chars + output.length;
  // file.read's content, file.list's entries: the big part of an output is one level down.
  if (output !== null && typeof output === 'object') {
    for (const value of Object.values(output)) {
      chars +=
        typeof value === 'string' ? value.length : Array.isArray(value) ? 64 * value.length : 64;
    }
  }
  return chars;
}
