// In-process wake-ups for long polls: a waiter is resolved by the event itself, never by a sleep
// loop. A waiter subscribes *before* it looks at the store, so an event that lands between the
// look and the wait is not missed (that gap is real once the store does I/O, as PostgreSQL does).

export interface Subscription {
  /** Resolves true when notified (possibly already), false when `ms` passes or `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<boolean>;
  dispose(): void;
}

export class WaiterHub {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Starts listening for `key`; call `wait` after checking the store, and always `dispose`. */
  subscribe(key: string): Subscription {
    let notified = false;
    let wake: (() => void) | undefined;
    const onNotify = (): void => {
      notified = true;
      wake?.();
    };
    this.add(key, onNotify);
    return {
      wait: (ms, signal) =>
        waitFor(
          () => notified,
          (fn) => (wake = fn),
          ms,
          signal,
        ),
      dispose: () => this.remove(key, onNotify),
    };
  }

  notify(key: string): void {
    const set = this.waiters.get(key);
    if (!set) return;
    for (const fn of [...set]) fn();
  }

  /** How many long polls are open, for metrics and tests. */
  count(key?: string): number {
    if (key !== undefined) return this.waiters.get(key)?.size ?? 0;
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  private add(key: string, fn: () => void): void {
    let set = this.waiters.get(key);
    if (!set) this.waiters.set(key, (set = new Set()));
    set.add(fn);
  }

  private remove(key: string, fn: () => void): void {
    const set = this.waiters.get(key);
    if (!set) return;
    set.delete(fn);
    if (set.size === 0) this.waiters.delete(key);
  }
}

function waitFor(
  isNotified: () => boolean,
  setWake: (fn: () => void) => void,
  ms: number,
  signal?: AbortSignal,
): Promise<boolean> {
  if (isNotified()) return Promise.resolve(true);
  if (ms <= 0 || signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (value: boolean): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      setWake(() => undefined);
      resolve(value);
    };
    const onAbort = (): void => finish(false);
    const timer = setTimeout(() => finish(false), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    setWake(() => finish(true));
  });
}

/** Task keys: one per task for `GET /tasks/:id?wait`, one shared key for claim polls. */
export const QUEUE_KEY = 'queue';
export const taskKey = (id: string): string => `task:${id}`;
/** Any change to a task a follower shows: new output, or any state change (not only the end). */
export const watchKey = (id: string): string => `watch:${id}`;
