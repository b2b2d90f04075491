// Retention: deletes finished tasks and old events in small batches, on a timer and on demand
// (maintenance). The store itself refuses to delete a task that has not ended, whatever the rules.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TERMINAL_STATES } from '../../protocol/tasks.ts';
import type { Clock } from '../../lib/clock.ts';
import type { RetentionRules, Store } from '../../store/types.ts';
import type { ServerConfig } from '../config.ts';

export type RetentionSettings = Pick<
  ServerConfig,
  | 'taskRetentionMs'
  | 'resultRetentionMs'
  | 'maxFinishedTasks'
  | 'eventRetentionMs'
  | 'maxEvents'
  | 'sessionRetentionMs'
>;

/**
 * Rows of each table per prune call. 500 deletes (with their index updates) commit in a few ms on
 * SQLite, so a claim or a finish waiting for the write lock is delayed by that much at worst.
 */
export const PRUNE_BATCH = 500;

/** The store's rules for one retention run at `now`. */
export function retentionRules(
  settings: RetentionSettings,
  now: number,
  batch = PRUNE_BATCH,
): RetentionRules {
  return {
    now,
    finishedBefore: now - settings.taskRetentionMs,
    readBefore: now - settings.resultRetentionMs,
    maxFinished: settings.maxFinishedTasks,
    eventsBefore: now - settings.eventRetentionMs,
    maxEvents: settings.maxEvents,
    sessionsBefore: now - settings.sessionRetentionMs,
    batch,
  };
}

export interface PruneTotals {
  tasks: number;
  events: number;
  sessions: number;
  batches: number;
}

/**
 * Prunes batch after batch until no rule matches or `shouldStop()`. Between batches it yields to
 * the event loop (setImmediate), so requests queued behind a big backlog are served in between.
 */
export async function pruneAll(
  store: Store,
  rules: RetentionRules,
  shouldStop: () => boolean = () => false,
): Promise<PruneTotals> {
  const totals: PruneTotals = { tasks: 0, events: 0, sessions: 0, batches: 0 };
  for (;;) {
    const result = await store.prune(rules);
    totals.tasks += result.tasks;
    totals.events += result.events;
    totals.sessions += result.sessions;
    totals.batches += 1;
    // "More" with nothing deleted would spin forever; the next run picks up whatever is left.
    const deleted = result.tasks + result.events + result.sessions;
    if (!result.more || deleted === 0 || shouldStop()) return totals;
    await nextTurn();
  }
}

export interface RetentionLoop {
  /** Stops the timer and resolves once a run in progress has finished its current batch. */
  stop(): Promise<void>;
}

export interface RetentionLoopDeps {
  store: Store;
  clock: Clock;
  settings: RetentionSettings;
  intervalMs: number;
  onError: (err: unknown) => void;
}

/** Runs retention every `intervalMs`; a run still going when the timer fires is not overlapped. */
export function startRetention(deps: RetentionLoopDeps): RetentionLoop {
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = async (): Promise<void> => {
    try {
      const rules = retentionRules(deps.settings, deps.clock.now());
      await pruneAll(deps.store, rules, () => stopped);
    } catch (err) {
      deps.onError(err);
    }
  };
  const tick = (): void => {
    if (running || stopped) return;
    running = run().finally(() => (running = undefined));
  };
  const timer = setInterval(tick, deps.intervalMs);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

export interface StoreCounts {
  tasks: number;
  finishedTasks: number;
  events: number;
}

export interface MaintenanceReport {
  pruned: PruneTotals;
  vacuumed: boolean;
  before: StoreCounts;
  after: StoreCounts;
  rules: RetentionRules;
}

/** Retention now, every batch, then optionally VACUUM; with the counts before and after. */
export async function runMaintenance(
  deps: { store: Store; clock: Clock; settings: RetentionSettings },
  opts: { vacuum: boolean },
): Promise<MaintenanceReport> {
  const before = await countRows(deps.store);
  const rules = retentionRules(deps.settings, deps.clock.now());
  const pruned = await pruneAll(deps.store, rules);
  if (opts.vacuum) await deps.store.compact();
  return { pruned, vacuumed: opts.vacuum, before, after: await countRows(deps.store), rules };
}

async function countRows(store: Store): Promise<StoreCounts> {
  const byState = await store.countTasks();
  const tasks = Object.values(byState).reduce((sum, n) => sum + n, 0);
  const finishedTasks = TERMINAL_STATES.reduce((sum, s) => sum + byState[s], 0);
  return { tasks, finishedTasks, events: (await store.eventStats()).total };
}
