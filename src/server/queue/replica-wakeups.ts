// Several servers on one database: long polls here wake when another server creates, requeues,
// cancels or ends a task, from the store's change notices (PostgreSQL LISTEN/NOTIFY). A periodic
// recheck wakes claim polls anyway, as a backstop for a notice that never arrived.
import type { StoreNotifications } from '../../store/types.ts';
import type { TaskService } from './task-service.ts';
import { QUEUE_KEY } from './waiters.ts';

/** How often claim polls look at the store again without a notice: bounds a lost notice's cost. */
export const REPLICA_RECHECK_MS = 5_000;

export interface ReplicaWakeups {
  stop(): void;
}

/** Feeds `notifications` into the service's waiter hub until stopped. */
export function startReplicaWakeups(
  service: TaskService,
  notifications: StoreNotifications,
  recheckMs = REPLICA_RECHECK_MS,
): ReplicaWakeups {
  const unsubscribe = notifications.subscribe({
    changed: (change) => service.announceChange(change),
    // The listening connection came back: anything may have changed meanwhile.
    resync: () => service.hub.notifyAll(),
  });
  const backstop = setInterval(() => service.hub.notify(QUEUE_KEY), recheckMs);
  backstop.unref();
  return {
    stop: () => {
      clearInterval(backstop);
      unsubscribe();
    },
  };
}
