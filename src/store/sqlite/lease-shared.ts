// What the lease queries (claim, heartbeat, finish) and the expiry queries (reaper, runner
// restarts) share: the fence, clearing a lease, finish event names, and undoing a claim.
import type Database from 'better-sqlite3';
import type { Outcome } from '../../protocol/tasks.ts';
import type { LeaseRef } from '../../protocol/runner.ts';
import { AT, TASK_COLUMNS, type TaskValues } from './rows.ts';
import type { EventLog } from './event-log.ts';
import type { AttemptLog } from './attempt-log.ts';

/**
 * lease_instance stays: the ended attempt's row is written from the task row after this (see
 * attempt-log.ts), and nothing reads it outside the running and held states.
 */
export const CLEAR_LEASE = `lease_token = NULL, lease_expires_at = NULL, lease_legacy = 0,
  lease_acked = 0`;
/**
 * A finish that ends the task clears the lease but keeps its token: a terminal state fences
 * nothing with it, and a repeat of that finish (its answer was lost) is then known for one
 * (`endedUnder`). Every other end of a lease (a retry, the reaper, a given-back claim) clears the
 * token, so a late result under it is refused.
 */
export const END_LEASE = 'lease_expires_at = NULL, lease_legacy = 0, lease_acked = 0';
/** A held task (waiting for a person's approval) keeps its lease: the same token fences it. */
export const FENCE = "id = @id AND lease_token = @token AND state IN ('running', 'held')";
/** A task going back to the queue forgets the previous attempt's hold. */
export const CLEAR_HOLD = 'hold = NULL';

/** Event types of a finished attempt; the first four keep their legacy names. */
export const FINISH_EVENT: Record<Outcome['status'], string> = {
  succeeded: 'task.completed',
  failed: 'task.failed',
  timed_out: 'task.failed',
  cancelled: 'task.cancelled',
  lost: 'task.lost',
};

/** Undoes the claim itself: the attempt is not counted and the task looks unclaimed. */
const UNDO_CLAIM = `UPDATE tasks SET state = 'queued', attempt = attempt - 1, updated_at = @now, ${CLEAR_HOLD},
    started_at = CASE WHEN attempt = 1 THEN NULL ELSE started_at END, ${CLEAR_LEASE}
  WHERE ${FENCE} RETURNING ${TASK_COLUMNS}`;

/**
 * Gives a claim back as if it had never been made, for a claim that never reached its runner
 * (the poll's connection closed) or that its runner never acknowledged before the lease ran out.
 */
export class ClaimUndo {
  private readonly statement: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly events: EventLog,
    private readonly attempts: AttemptLog,
  ) {
    this.statement = db.prepare(UNDO_CLAIM).raw();
  }

  /** Call inside a transaction; undefined when the token no longer holds the task. */
  undo({ taskId, leaseToken }: LeaseRef, now: number, reason: string): TaskValues | undefined {
    const values = this.statement.get({ id: taskId, token: leaseToken, now }) as
      TaskValues | undefined;
    if (values === undefined) return undefined;
    const attempt = values[AT.attempt] + 1;
    this.attempts.remove(taskId, attempt);
    this.events.logTask('lease.released', values, now, { attempt, reason });
    return values;
  }
}
