// Attempts whose runner stopped reporting: the lease reaper (expired leases), runner restarts
// (a new instance id ends the old instance's leases at once), and a starting server's grace.
import type { Outcome } from '../../protocol/tasks.ts';
import type * as S from '../types.ts';
import type { Database, Tx } from './database.ts';
import { TASK_COLUMNS, taskFromRow, type TaskRow } from './rows.ts';
import { logTask } from './event-log.ts';
import type { AttemptLog } from './attempt-log.ts';
import { CLEAR_HOLD, CLEAR_LEASE, FINISH_EVENT, type ClaimUndo } from './lease-shared.ts';
import type { SessionTurns } from './session-turns.ts';

/** Why an attempt ended without a report, as its outcome, history and events say it. */
interface Unreported {
  event: 'lease.expired' | 'lease.released';
  reason: string;
  cancelled: string;
}
const EXPIRED: Unreported = {
  event: 'lease.expired',
  reason: 'Lease expired: the runner stopped reporting',
  cancelled: 'Cancelled; the runner stopped reporting before confirming',
};
const RESTARTED: Unreported = {
  event: 'lease.released',
  reason: 'The runner restarted while the attempt ran',
  cancelled: 'Cancelled; the runner restarted before confirming',
};

const endedOutcome = (status: 'lost' | 'cancelled', message: string): Outcome => ({
  status,
  error: { kind: status, message, retryable: false },
});

const HELD = 'id, attempt, max_attempts, cancel_requested_at, lease_acked, lease_token';
/** A task held for approval keeps its lease, which expires and is released like a running one's. */
const LEASED = "state IN ('running', 'held')";

const SQL = {
  anyExpired: `SELECT 1 FROM tasks WHERE ${LEASED} AND lease_expires_at <= $1 LIMIT 1`,
  // SKIP LOCKED: two replicas reaping at once each take different rows, and neither waits on a
  // row a finish or heartbeat is writing (it is looked at again on the next pass).
  expired: `SELECT ${HELD} FROM tasks
    WHERE ${LEASED} AND lease_expires_at <= $1 ORDER BY lease_expires_at LIMIT $2
    FOR UPDATE SKIP LOCKED`,
  // Legacy leases carry no instance, so a restart of a v1 runner never touches them.
  otherInstances: `SELECT ${HELD} FROM tasks
    WHERE ${LEASED} AND runner = $1 AND lease_instance IS NOT NULL AND lease_instance <> $2
    ORDER BY id FOR UPDATE`,
  extendRunning: `UPDATE tasks SET lease_expires_at = $1, updated_at = $2
    WHERE ${LEASED} AND lease_expires_at < $1`,
  requeue: `UPDATE tasks SET state = 'queued', updated_at = $2, ${CLEAR_LEASE}, ${CLEAR_HOLD}
    WHERE id = $1 AND ${LEASED} RETURNING ${TASK_COLUMNS}`,
  end: `UPDATE tasks SET state = $3, outcome = $4::jsonb, finished_at = $2, updated_at = $2,
      ${CLEAR_LEASE}
    WHERE id = $1 AND ${LEASED} RETURNING ${TASK_COLUMNS}`,
} as const;

interface HeldRow {
  id: string;
  attempt: number;
  max_attempts: number;
  cancel_requested_at: number | null;
  lease_acked: boolean;
  lease_token: string;
}

export class ExpiryQueries {
  constructor(
    private readonly db: Database,
    private readonly attempts: AttemptLog,
    private readonly claims: ClaimUndo,
    private readonly turns: SessionTurns,
  ) {}

  /** Reaps expired leases, oldest first; a plain read skips the transaction when none expired. */
  async requeueExpired(now: number, limit: number): Promise<S.StoredTask[]> {
    if (!(limit >= 1) || (await this.db.row(SQL.anyExpired, [now])) === undefined) return [];
    const rows = await this.db.transaction(async (tx) => {
      const expired = await tx.rows<HeldRow>(SQL.expired, [now, limit]);
      return this.endAll(tx, expired, now, EXPIRED);
    });
    return rows.map(taskFromRow);
  }

  async extendRunningLeases(until: number, now: number): Promise<number> {
    return this.db.run(SQL.extendRunning, [until, now]);
  }

  async releaseInstance(runner: string, instanceId: string, now: number): Promise<S.StoredTask[]> {
    const rows = await this.db.transaction(async (tx) => {
      const held = await tx.rows<HeldRow>(SQL.otherInstances, [runner, instanceId]);
      return this.endAll(tx, held, now, RESTARTED);
    });
    return rows.map(taskFromRow);
  }

  private async endAll(tx: Tx, held: HeldRow[], now: number, why: Unreported) {
    const ended: TaskRow[] = [];
    for (const row of held) ended.push(await this.endUnreported(tx, row, now, why));
    return ended;
  }

  /**
   * Ends an attempt whose runner stopped reporting: never acknowledged → given back uncounted;
   * cancel requested → cancelled; attempts left → queued again; otherwise → lost.
   */
  private async endUnreported(tx: Tx, row: HeldRow, now: number, why: Unreported) {
    const { id, attempt } = row;
    if (!row.lease_acked && row.cancel_requested_at === null) {
      const ref = { taskId: id, leaseToken: row.lease_token };
      return (await this.claims.undo(tx, ref, now, 'the runner never acknowledged the claim'))!;
    }
    await this.attempts.end(tx, id, attempt, 'lost', why.reason, now);
    const end = async (outcome: Outcome) =>
      (await tx.row<TaskRow>(SQL.end, [id, now, outcome.status, JSON.stringify(outcome)]))!;
    let ended: TaskRow;
    if (row.cancel_requested_at !== null)
      ended = await end(endedOutcome('cancelled', why.cancelled));
    else if (attempt < row.max_attempts) ended = (await tx.row<TaskRow>(SQL.requeue, [id, now]))!;
    else ended = await end(endedOutcome('lost', why.reason));
    logTask(tx, why.event, ended, now, { attempt, reason: why.reason });
    const state = ended.state as Outcome['status'];
    if (state in FINISH_EVENT) logTask(tx, FINISH_EVENT[state], ended, now, { attempt });
    await this.turns.ended(tx, ended, now);
    return ended;
  }
}
