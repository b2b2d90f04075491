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
  /** Done executing; only its outcome is being reported, which takes no slot. */
  reporting: boolean;
}

export class RunningAttempts {
  private readonly byTask = new Map<string, RunningAttempt>();
  private readonly waiters = new Set<() => void>();
  /** Claimed tasks not yet started (their claims are being acknowledged): they need slots too. */
  private reserved = 0;
  private reportingCount = 0;

  /** Attempts held, counting the claimed ones about to start and those reporting their outcome. */
  get size(): number {
    return this.byTask.size + this.reserved;
  }

  /**
   * Free slots under `capacity`. An attempt that is only reporting its outcome holds none (a finish
   * round trip should not keep the next task waiting), but all attempts held stay under twice the
   * capacity, so outcomes a failing server does not store cannot pile up without bound.
   */
  freeSlots(capacity: number): number {
    return Math.max(0, Math.min(capacity - this.busy, 2 * capacity - this.size));
  }

  /** Slots in use: attempts executing and claims about to start, not those only reporting. */
  get busy(): number {
    return this.size - this.reportingCount;
  }

  /** The attempt is done executing and now reports its outcome: its slot is free for the next. */
  markReporting(taskId: string): void {
    const attempt = this.byTask.get(taskId);
    if (attempt === undefined || attempt.reporting) return;
    attempt.reporting = true;
    this.reportingCount++;
    this.wakeWaiters();
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
      reporting: false,
    };
    this.byTask.set(claim.task.id, attempt);
    return attempt;
  }

  remove(taskId: string): void {
    if (this.byTask.get(taskId)?.reporting) this.reportingCount--;
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

  /** Resolves once a slot is free under `capacity` (see freeSlots), or when `signal` aborts. */
  async whenFree(capacity: number, signal?: AbortSignal): Promise<void> {
    while (this.freeSlots(capacity) === 0 && !signal?.aborted) await this.nextChange(signal);
  }

  /** Resolves once no attempt is held at all, reporting ones included. */
  async whenEmpty(): Promise<void> {
    while (this.size > 0) await this.nextChange();
  }

  private nextChange(signal?: AbortSignal): Promise<void> {
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
