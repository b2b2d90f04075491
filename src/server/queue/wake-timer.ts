// Wakes claim polls when a task scheduled for later (runAt, retry backoff) becomes due.
// One armed timer for the earliest due time over a sorted list, so many scheduled tasks cost
// one timer. Times scheduled by another process are covered by the reaper's backstop wake.

/** Node's timers overflow past 2^31-1 ms (~24.8 days); longer waits re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

export class WakeTimer {
  private timer: NodeJS.Timeout | undefined;
  private readonly dueTimes: number[] = [];

  constructor(
    private readonly onDue: () => void,
    private readonly now: () => number,
  ) {}

  /** Makes sure `onDue` runs at (or just after) `at`, epoch ms. */
  wakeAt(at: number): void {
    const i = this.dueTimes.findIndex((t) => t >= at);
    if (this.dueTimes[i] === at) return;
    this.dueTimes.splice(i === -1 ? this.dueTimes.length : i, 0, at);
    if (i === 0 || this.dueTimes.length === 1) this.arm();
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dueTimes.length = 0;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.dueTimes[0];
    if (next === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.now()));
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref();
  }

  private fire(): void {
    const now = this.now();
    let due = 0;
    while (due < this.dueTimes.length && this.dueTimes[due]! <= now) due++;
    this.dueTimes.splice(0, due);
    this.arm();
    if (due > 0) this.onDue();
  }
}
