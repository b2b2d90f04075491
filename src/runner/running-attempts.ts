// The attempts this runner is executing right now, keyed by task id, with promises that resolve
// when one ends, so the claim loop waits for a free slot instead of polling on a timer.
import type { Claim, LeaseRef } from '../protocol/runner.ts';

/** One claimed task being executed (or its outcome being reported). */
export interface RunningAttempt {
  readonly claim: Claim;
  /** Aborting it stops the executor: on cancel, lost lease, drain grace or stop. */
  readonly controller: AbortController;
  /** Local time of the last lease extension the server confirmed (or of the claim). */
  renewedAt: number;
  /** The server no longer honours this lease: stop, and report nothing. */
  lost: boolean;
}

export class RunningAttempts {
  private readonly byTask = new Map<string, RunningAttempt>();
  private readonly waiters = new Set<() => void>();
  /** Claimed tasks not yet started (their claims are being acknowledged): they need slots too. */
  private reserved = 0;

  /** Attempts held, counting the claimed ones about to start. */
  get size(): number {
    return this.byTask.size + this.reserved;
  }

  /** Holds `count` slots for claims being acknowledged; `release` gives them back once started. */
  reserve(count: number): void {
    this.reserved += count;
  }

  release(count: number): void {
    this.reserved -= count;
    this.wakeWaiters();
  }

  add(claim: Claim, now: number): RunningAttempt {
    const attempt: RunningAttempt = {
      claim,
      controller: new AbortController(),
      renewedAt: now,
      lost: false,
    };
    this.byTask.set(claim.task.id, attempt);
    return attempt;
  }

  remove(taskId: string): void {
    this.byTask.delete(taskId);
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }

  get(taskId: string): RunningAttempt | undefined {
    return this.byTask.get(taskId);
  }

  all(): RunningAttempt[] {
    return [...this.byTask.values()];
  }

  /** Leases still worth extending: a lost one would only be refused again. */
  leases(): LeaseRef[] {
    return this.all()
      .filter((a) => !a.lost)
      .map((a) => ({ taskId: a.claim.task.id, leaseToken: a.claim.leaseToken }));
  }

  abortAll(reason: Error): void {
    for (const attempt of this.byTask.values()) attempt.controller.abort(reason);
  }

  /** Resolves once fewer than `limit` attempts run or are about to, or when `signal` aborts. */
  async whenBelow(limit: number, signal?: AbortSignal): Promise<void> {
    while (this.size >= limit && !signal?.aborted) await this.nextRemoval(signal);
  }

  /** Resolves once no attempt runs. */
  whenEmpty(): Promise<void> {
    return this.whenBelow(1);
  }

  private nextRemoval(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }
}
