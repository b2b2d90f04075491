// What the lease queries (claim, heartbeat, finish) and the expiry queries (reaper, runner
// restarts) share: the fence, clearing a lease, finish event names, and undoing a claim.
import type { Outcome } from '../../protocol/tasks.ts';
import type { LeaseRef } from '../../protocol/runner.ts';
import type { Tx } from './database.ts';
import { TASK_COLUMNS, type TaskRow } from './rows.ts';
import { logTask } from './event-log.ts';
import type { AttemptLog } from './attempt-log.ts';

export const CLEAR_LEASE = `lease_token = NULL, lease_expires_at = NULL, lease_legacy = FALSE,
  lease_instance = NULL, lease_acked = FALSE`;
/**
 * A finish that ends the task clears the lease but keeps its token: a terminal state fences
 * nothing with it, and a repeat of that finish (its answer was lost) is then known for one
 * (`endedUnder`). Every other end of a lease (a retry, the reaper, a given-back claim) clears the
 * token, so a late result under it is refused.
 */
export const END_LEASE = `lease_expires_at = NULL, lease_legacy = FALSE, lease_instance = NULL,
  lease_acked = FALSE`;
/**
 * $1 is the task id, $2 its lease token. A held task (waiting for a person's approval) keeps its
 * lease: the same token fences it.
 */
export const FENCE = "id = $1 AND lease_token = $2 AND state IN ('running', 'held')";
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
const UNDO_CLAIM = `UPDATE tasks SET state = 'queued', attempt = attempt - 1, updated_at = $3,
    ${CLEAR_HOLD},
    started_at = CASE WHEN attempt = 1 THEN NULL ELSE started_at END, ${CLEAR_LEASE}
  WHERE ${FENCE} RETURNING ${TASK_COLUMNS}`;

/**
 * Gives a claim back as if it had never been made, for a claim that never reached its runner
 * (the poll's connection closed) or that its runner never acknowledged before the lease ran out.
 */
export class ClaimUndo {
  constructor(private readonly attempts: AttemptLog) {}

  /** Call inside a transaction; undefined when the token no longer holds the task. */
  async undo(
    tx: Tx,
    { taskId, leaseToken }: LeaseRef,
    now: number,
    reason: string,
  ): Promise<TaskRow | undefined> {
    const row = await tx.row<TaskRow>(UNDO_CLAIM, [taskId, leaseToken, now]);
    if (row === undefined) return undefined;
    const attempt = row.attempt + 1;
    await this.attempts.remove(tx, taskId, attempt);
    logTask(tx, 'lease.released', row, now, { attempt, reason });
    return row;
  }
}
