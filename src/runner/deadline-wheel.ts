// One timer for the limits of every request in flight, instead of a timer (or an AbortController)
// per request: a busy runner sends hundreds of requests a second and nearly all of them end long
// before their limit, so arming and clearing a timer for each was wasted work.

/** Something with a limit: `deadline` is epoch ms, 0 once it no longer needs watching. */
export interface Timed {
  deadline: number;
  /** Called once its deadline has passed (and is still set). */
  timeOut(): void;
}

/**
 * Watches deadlines with a single timer, armed for the earliest one it knows of. An item that
 * finishes only sets its deadline to 0; the timer, when it fires, drops those, times out the
 * items past their deadline and re-arms for the earliest left. So it fires about once per
 * shortest limit, whatever the number of requests.
 */
export class DeadlineWheel {
  private readonly watched = new Set<Timed>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  watch(item: Timed): void {
    this.watched.add(item);
    if (item.deadline < this.armedFor) this.arm(item.deadline);
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.armedFor = at;
    // Unref'd: what is in flight (a socket) keeps the process alive, not its limit.
    this.timer = setTimeout(this.sweep, Math.max(0, at - Date.now())).unref();
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const item of this.watched) {
      if (item.deadline === 0) this.watched.delete(item);
      else if (item.deadline <= now) {
        this.watched.delete(item);
        item.timeOut();
      } else next = Math.min(next, item.deadline);
    }
    if (next !== Infinity) this.arm(next);
  };
}
