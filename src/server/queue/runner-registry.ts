// The server's view of its runners: who is online (last seen within a lease, or the longest
// claim poll, plus a heartbeat),
// their activity recorded without turning every claim into a write, and why a task waits.
import type { RunnerInfo } from '../../protocol/auth.ts';
import type { Task } from '../../protocol/tasks.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../../store/types.ts';
import { describeWait } from './wait-reason.ts';

/**
 * A runner's last-seen time is written at most this often per runner and server process: claims
 * and heartbeats stay cheap, and it is far below the online window (the longer of a lease and
 * the longest claim poll, plus a heartbeat: 70 s by default), so an active runner never looks
 * offline.
 */
const SEEN_RESOLUTION_MS = 5_000;

export class RunnerRegistry {
  private readonly lastWritten = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** A runner seen within this long is online: one missed heartbeat is not yet offline. */
    readonly onlineWithinMs: number,
  ) {}

  /** After a hello, which itself wrote the last-seen time. */
  helloRecorded(name: string, now: number): void {
    this.lastWritten.set(name, now);
  }

  /**
   * Records activity (a claim, a heartbeat). Best effort: a store error here must not fail the
   * claim or heartbeat it rides on, which report store trouble on their own; it is tried again
   * on the runner's next request.
   */
  async seen(name: string): Promise<void> {
    const now = this.clock.now();
    const last = this.lastWritten.get(name);
    if (last !== undefined && now - last < SEEN_RESOLUTION_MS) return;
    this.lastWritten.set(name, now);
    try {
      await this.store.markRunnerSeen(name, now);
    } catch {
      this.lastWritten.delete(name);
    }
  }

  list(): Promise<RunnerInfo[]> {
    return this.store.listRunners(this.clock.now(), this.onlineWithinMs);
  }

  /** Why a pending task is not running yet (see wait-reason.ts); undefined for other states. */
  async waitReason(task: Task): Promise<string | undefined> {
    const due =
      task.state === 'queued' || (task.state === 'scheduled' && task.runAt <= this.clock.now());
    if (!due) return undefined;
    const runners = await this.list();
    const key = task.concurrency?.key;
    const runningWithKey =
      key === undefined ? undefined : await this.store.countRunningWithKey(key);
    return describeWait(task, { runners, runningWithKey });
  }
}
