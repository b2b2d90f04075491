// In-process wake-ups for long polls: a waiter is resolved by the event itself, never by a sleep
// loop. A waiter subscribes *before* it looks at the store, so an event that lands between the
// look and the wait is not missed (that gap is real once the store does I/O, as PostgreSQL does).

/**
 * Ends a wait early (its client went away). An AbortSignal is one; routes pass the lighter one of
 * routes/connection-signal.ts. A listener is called at most once.
 */
export interface WaitSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface Subscription<V> {
  /**
   * Resolves true when notified (possibly already); false when `ms` passes, `signal` aborts or the
   * hub is closed, so a closed hub ends a claim poll empty and a task wait with the task as it is.
   */
  wait(ms: number, signal?: WaitSignal): Promise<boolean>;
  /**
   * What the notification that woke this waiter carried, if it carried anything: the changed task
   * itself, so a woken waiter need not read back what the change just wrote.
   */
  notifiedWith(): V | undefined;
  dispose(): void;
}

interface Waiter<V> {
  notify(value: V | undefined): void;
  end(): void;
}

/** `V`: what a notification may carry to the waiters it wakes (see Subscription.notifiedWith). */
export class WaiterHub<V = unknown> {
  private readonly waiters = new Map<string, Set<Waiter<V>>>();
  private closed = false;

  /** Starts listening for `key`; call `wait` after checking the store, and always `dispose`. */
  subscribe(key: string): Subscription<V> {
    let state: 'waiting' | 'notified' | 'ended' = this.closed ? 'ended' : 'waiting';
    let wake: ((notified: boolean) => void) | undefined;
    let carried: V | undefined;
    const waiter: Waiter<V> = {
      notify: (value) => {
        if (state !== 'waiting') return;
        state = 'notified';
        carried = value;
        wake?.(true);
      },
      end: () => {
        if (state !== 'waiting') return;
        state = 'ended';
        wake?.(false);
      },
    };
    this.add(key, waiter);
    return {
      wait: (ms, signal) =>
        waitFor(
          () => state,
          (fn) => (wake = fn),
          ms,
          signal,
        ),
      notifiedWith: () => carried,
      dispose: () => this.remove(key, waiter),
    };
  }

  /** Wakes the waiters of `key`; `value`, when given, must be what they would read back. */
  notify(key: string, value?: V): void {
    const set = this.waiters.get(key);
    if (!set) return;
    for (const waiter of [...set]) waiter.notify(value);
  }

  /** Wakes every waiter, whatever its key, to look at the store again (changes may be missed). */
  notifyAll(): void {
    for (const set of [...this.waiters.values()])
      for (const waiter of [...set]) waiter.notify(undefined);
  }

  /**
   * Ends every wait, now and from now on (server shutdown): open long polls answer at once instead
   * of holding the close for up to 60 s, and a poll arriving later does not start a new wait.
   */
  closeAll(): void {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) waiter.end();
  }

  /** How many long polls are open, for metrics and tests. */
  count(key?: string): number {
    if (key !== undefined) return this.waiters.get(key)?.size ?? 0;
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  private add(key: string, waiter: Waiter<V>): void {
    let set = this.waiters.get(key);
    if (!set) this.waiters.set(key, (set = new Set()));
    set.add(waiter);
  }

  private remove(key: string, waiter: Waiter<V>): void {
    const set = this.waiters.get(key);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.waiters.delete(key);
  }
}

function waitFor(
  stateOf: () => 'waiting' | 'notified' | 'ended',
  setWake: (fn: (notified: boolean) => void) => void,
  ms: number,
  signal?: WaitSignal,
): Promise<boolean> {
  const state = stateOf();
  if (state === 'notified') return Promise.resolve(true);
  if (state === 'ended' || ms <= 0 || signal?.aborted) return Promise.resolve(false);
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
    setWake(finish);
  });
}

/** Task keys: one per task for `GET /tasks/:id?wait`, one shared key for claim polls. */
export const QUEUE_KEY = 'queue';
export const taskKey = (id: string): string => `task:${id}`;
/** Any change to a task a follower shows: new output, or any state change (not only the end). */
export const watchKey = (id: string): string => `watch:${id}`;
