// The server's callback dispatcher: woken when a task ends (and by a timer for retries), it claims
// due callbacks from the store and delivers them. Everything it needs is in the database, so a
// restart picks up where the last process stopped; a slow backstop timer covers missed wakes.
import type { FastifyBaseLogger } from 'fastify';
import { newSecret } from '../../lib/ids.ts';
import type { Clock } from '../../lib/clock.ts';
import { shownTarget } from '../../lib/shown-target.ts';
import type { ClaimedCallback, Store } from '../../store/types.ts';
import { WakeTimer } from '../queue/wake-timer.ts';
import type { CallbackSettings } from './callback-config.ts';
import { deliverCallback, type DeliveryEnd } from './deliver-callback.ts';
import type { FetchLike } from './post-json.ts';
import { setImmediate as nextTurn } from 'node:timers/promises';

export interface DispatcherDeps {
  store: Store;
  clock: Clock;
  settings: CallbackSettings;
  log: Pick<FastifyBaseLogger, 'debug' | 'warn' | 'error'>;
  fetch?: FetchLike;
}

/** Deliveries at once; each is a few small POSTs, so a handful keeps up with any chat. */
const MAX_PARALLEL = 8;
/** Due rows read per scan. */
const SCAN_LIMIT = 100;
/** Only a backstop: task ends and retry times wake the dispatcher themselves. */
const BACKSTOP_MS = 30_000;
/** A claim outlives the slowest part: a 10 s POST plus a bucket pause of up to 60 s. */
const CLAIM_MS = 120_000;
const REQUEST_TIMEOUT_MS = 10_000;

export class CallbackDispatcher {
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly abort = new AbortController();
  private readonly endedTasks = new Set<string>();
  private readonly timer: WakeTimer;
  private fullScan = false;
  /** Set when a scan left due rows for lack of a free slot: a finished delivery scans again. */
  private capped = false;
  private scanning: Promise<void> | undefined;
  private backstop: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: DispatcherDeps) {
    this.timer = new WakeTimer(
      () => this.wake(),
      () => deps.clock.now(),
    );
  }

  /**
   * Takes over deliveries a previous process left mid-way, then looks for due callbacks. On a
   * store other servers share, a claim may be a live replica's delivery in progress: it is left to
   * run out instead (`claimedUntil`), so nothing is posted twice.
   */
  async start(): Promise<void> {
    const { store, clock, log } = this.deps;
    if (store.notifications === undefined) {
      const released = await store.releaseCallbackClaims(clock.now());
      if (released > 0) log.debug({ released }, 'callback deliveries resumed');
    }
    this.backstop = setInterval(() => this.wake(), BACKSTOP_MS);
    this.backstop.unref();
    this.wake();
  }

  /**
   * A task ended (look at its callbacks), or with no id: look at every due callback. The scan
   * starts one turn of the event loop later, so the tasks a finish batch ended cost one query.
   */
  wake(taskId?: string): void {
    if (this.stopped) return;
    if (taskId === undefined) this.fullScan = true;
    else this.endedTasks.add(taskId);
    this.scanning ??= nextTurn()
      .then(() => this.scan())
      .finally(() => {
        this.scanning = undefined;
        // A wake that came in after the last check must not wait for the backstop.
        if (this.fullScan || this.endedTasks.size > 0) this.wake();
      });
  }

  /** Stops scanning, aborts deliveries in flight (they resume at the next start) and waits. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.backstop);
    this.timer.clear();
    this.abort.abort();
    await this.scanning;
    await Promise.allSettled(this.inFlight.values());
  }

  private async scan(): Promise<void> {
    while (!this.stopped && (this.fullScan || this.endedTasks.size > 0)) {
      const full = this.fullScan;
      const tasks = [...this.endedTasks];
      this.fullScan = false;
      this.endedTasks.clear();
      try {
        for (const id of await this.findDue(full, tasks)) await this.startDelivery(id);
        if (full) await this.armTimer();
      } catch (err) {
        this.deps.log.error({ err }, 'callback scan failed');
      }
    }
  }

  private findDue(full: boolean, tasks: string[]): Promise<number[]> {
    const { store, clock } = this.deps;
    return store.findDueCallbacks(clock.now(), SCAN_LIMIT, full ? undefined : tasks);
  }

  /** Arms the timer for the next retry or claim expiry the database knows of. */
  private async armTimer(): Promise<void> {
    const next = await this.deps.store.nextCallbackDueAt();
    if (next !== undefined) this.timer.wakeAt(next);
  }

  private async startDelivery(id: number): Promise<void> {
    if (this.inFlight.has(id) || this.stopped) return;
    if (this.inFlight.size >= MAX_PARALLEL) {
      this.capped = true;
      return;
    }
    const now = this.deps.clock.now();
    const claimToken = newSecret(16);
    const claim = { id, claimToken, now, claimedUntil: now + CLAIM_MS };
    const cb = await this.deps.store.claimCallback(claim);
    if (!cb) return;
    const delivery = this.deliver(cb, claimToken).finally(() => {
      this.inFlight.delete(id);
      if (this.capped) {
        this.capped = false;
        this.wake();
      }
    });
    this.inFlight.set(id, delivery);
  }

  private async deliver(cb: ClaimedCallback, claimToken: string): Promise<void> {
    const { store, clock, settings, fetch } = this.deps;
    const signal = this.abort.signal;
    const context = { store, clock, settings, fetch, signal, claimToken };
    try {
      const end = await deliverCallback(cb, {
        ...context,
        claimMs: CLAIM_MS,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
      });
      this.afterDelivery(cb, end);
    } catch (err) {
      // Stopping aborts the POST in flight: the claim stays, and the next start resumes it.
      if (signal.aborted) return;
      this.deps.log.error({ err, taskId: cb.taskId }, 'callback delivery failed');
    }
  }

  private afterDelivery(cb: ClaimedCallback, end: DeliveryEnd): void {
    const about = { taskId: cb.taskId, kind: cb.kind, target: shownTarget(cb.kind, cb.target) };
    if (end.settled === 'retry') this.timer.wakeAt(end.nextAt);
    if (end.settled === 'sent') this.deps.log.debug(about, 'callback sent');
    if (end.settled === 'failed')
      this.deps.log.warn({ ...about, error: end.error }, 'callback failed');
  }
}
