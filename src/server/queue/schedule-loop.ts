// Fires due schedules while the server runs: one timer armed for the earliest next slot of any
// schedule, capped at a backstop interval so slots of schedules another server created (or
// changed) on the same database are found too. The store's compare-and-set makes a slot fire
// once however many servers look at it.
import type { Clock } from '../../lib/clock.ts';
import type { ScheduleService } from './schedule-service.ts';

/** Look again at least this often (the backstop for schedules this process did not create). */
export const SCHEDULE_BACKSTOP_MS = 15_000;

export interface ScheduleLoop {
  /** Re-arms for a schedule created or deleted here. */
  poke(): void;
  stop(): Promise<void>;
}

export interface ScheduleLoopDeps {
  schedules: ScheduleService;
  clock: Clock;
  backstopMs: number;
  onError: (err: unknown) => void;
}

/** Fires what is due now (so a restart catches up before serving), then keeps going. */
export async function startScheduleLoop(deps: ScheduleLoopDeps): Promise<ScheduleLoop> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const arm = (delay: number): void => {
    if (timer) clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(tick, Math.max(0, delay));
    timer.unref();
  };
  const run = async (): Promise<void> => {
    try {
      await deps.schedules.fireDue();
      const next = await deps.schedules.nextRunAt();
      const untilNext = next === undefined ? Infinity : next - deps.clock.now();
      arm(Math.min(deps.backstopMs, untilNext));
    } catch (err) {
      // Not straight back: a store that fails now most likely fails again in a millisecond.
      deps.onError(err);
      arm(deps.backstopMs);
    }
  };
  // A poke during a run asks for one more run after it, never two at once.
  function tick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = run().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        tick();
      }
    });
  }

  tick();
  await running;
  return {
    poke: tick,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
