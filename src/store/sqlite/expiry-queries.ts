// Attempts whose runner stopped reporting: the lease reaper (expired leases), runner restarts
// (a new instance id ends the old instance's leases at once), and a starting server's grace.
import type Database from 'better-sqlite3';
import type { Outcome } from '../../protocol/tasks.ts';
import type * as S from '../types.ts';
import { prepareStatements, type Prepared, type Transaction } from './statements.ts';
import { AT, TASK_COLUMNS, taskFromValues, type TaskValues } from './rows.ts';
import type { EventLog } from './event-log.ts';
import type { AttemptLog } from './attempt-log.ts';
import { CLEAR_HOLD, CLEAR_LEASE, FINISH_EVENT, type ClaimUndo } from './lease-shared.ts';
import type { SessionTurns } from './session-turns.ts';
import { LIVE_STATES } from './state-indexes.ts';

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

/**
 * Leased tasks are found through the running and held part of tasks_live_state: as many rows as
 * the runners hold, read once a second by the reaper. An index of their own would cost every
 * claim, acknowledgement and finish (migration 14).
 */
const LEASED = `${LIVE_STATES} AND state IN ('running', 'held')`;

export const EXPIRY_SQL = {
  expired: `SELECT ${HELD} FROM tasks INDEXED BY tasks_live_state
    WHERE ${LEASED} AND lease_expires_at <= ? ORDER BY lease_expires_at LIMIT ?`,
  // Legacy leases carry no instance, so a restart of a v1 runner never touches them.
  otherInstances: `SELECT ${HELD} FROM tasks INDEXED BY tasks_live_state
    WHERE ${LEASED} AND runner = ? AND lease_instance IS NOT NULL AND lease_instance <> ?`,
  extendRunning: `UPDATE tasks INDEXED BY tasks_live_state
    SET lease_expires_at = @until, updated_at = @now
    WHERE ${LEASED} AND lease_expires_at < @until`,
  requeue: `UPDATE tasks SET state = 'queued', updated_at = @now, ${CLEAR_LEASE}, ${CLEAR_HOLD}
    WHERE id = @id AND state IN ('running', 'held') RETURNING ${TASK_COLUMNS}`,
  end: `UPDATE tasks SET state = @status, outcome = @outcome, finished_at = @now,
      updated_at = @now, ${CLEAR_LEASE}
    WHERE id = @id AND state IN ('running', 'held') RETURNING ${TASK_COLUMNS}`,
} as const;

interface HeldRow {
  id: string;
  attempt: number;
  max_attempts: number;
  cancel_requested_at: number | null;
  lease_acked: number;
  lease_token: string;
}

export class ExpiryQueries {
  private readonly statements: Prepared<typeof EXPIRY_SQL>;
  private readonly requeueTx: Transaction<[number, number], TaskValues[]>;
  private readonly releaseInstanceTx: Transaction<[string, string, number], TaskValues[]>;

  constructor(
    db: Database.Database,
    private readonly events: EventLog,
    private readonly attempts: AttemptLog,
    private readonly claims: ClaimUndo,
    private readonly turns: SessionTurns,
  ) {
    this.statements = prepareStatements(db, EXPIRY_SQL);
    this.requeueTx = db.transaction((now: number, limit: number) => {
      const expired = this.statements.expired.all(now, limit) as HeldRow[];
      return expired.map((row) => this.endUnreported(row, now, EXPIRED));
    });
    this.releaseInstanceTx = db.transaction((runner: string, instance: string, now: number) => {
      const held = this.statements.otherInstances.all(runner, instance) as HeldRow[];
      return held.map((row) => this.endUnreported(row, now, RESTARTED));
    });
  }

  /** Reaps expired leases, oldest first; a plain read skips the write lock when none expired. */
  requeueExpired(now: number, limit: number): S.StoredTask[] {
    if (!(limit >= 1) || this.statements.expired.get(now, 1) === undefined) return [];
    return this.requeueTx.immediate(now, limit).map(taskFromValues);
  }

  extendRunningLeases(until: number, now: number): number {
    return this.statements.extendRunning.run({ until, now }).changes;
  }

  releaseInstance(runner: string, instanceId: string, now: number): S.StoredTask[] {
    return this.releaseInstanceTx.immediate(runner, instanceId, now).map(taskFromValues);
  }

  /**
   * Ends an attempt whose runner stopped reporting: never acknowledged → given back uncounted;
   * cancel requested → cancelled; attempts left → queued again; otherwise → lost.
   */
  private endUnreported(row: HeldRow, now: number, why: Unreported): TaskValues {
    const { id, attempt } = row;
    if (row.lease_acked === 0 && row.cancel_requested_at === null) {
      const ref = { taskId: id, leaseToken: row.lease_token };
      return this.claims.undo(ref, now, 'the runner never acknowledged the claim')!;
    }
    this.attempts.end(id, attempt, 'lost', why.reason, now);
    const end = (outcome: Outcome) => {
      const { status } = outcome;
      const params = { id, now, status, outcome: JSON.stringify(outcome) };
      return this.statements.end.get(params) as TaskValues;
    };
    let values: TaskValues;
    if (row.cancel_requested_at !== null) values = end(endedOutcome('cancelled', why.cancelled));
    else if (attempt < row.max_attempts)
      values = this.statements.requeue.get({ id, now }) as TaskValues;
    else values = end(endedOutcome('lost', why.reason));
    this.events.logTask(why.event, values, now, { attempt, reason: why.reason });
    const state = values[AT.state] as Outcome['status'];
    if (state in FINISH_EVENT) this.events.logTask(FINISH_EVENT[state], values, now, { attempt });
    this.turns.ended(values, now);
    return values;
  }
}
