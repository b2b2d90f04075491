// Periodically returns expired leases to the queue; the service wakes claim polls for each
// requeued task, so an idle server does no work beyond one indexed query per tick.
import type { LeaseService } from './lease-service.ts';

export interface LeaseReaper {
  stop(): void;
}

/** Starts the reaper; `onError` hears store failures (the reaper keeps going). */
export function startLeaseReaper(
  service: LeaseService,
  intervalMs: number,
  onError: (err: unknown) => void,
): LeaseReaper {
  let running = false;
  const tick = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      await service.requeueExpired();
    } catch (err) {
      onError(err);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
