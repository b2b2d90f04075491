// The lease side of the SQLite store: claim, heartbeat, finish and expiry. A lease token fences
// every write about a running attempt, so a runner that lost its lease can change nothing.
import type Database from 'better-sqlite3';
import { newSecret } from '../../lib/ids.ts';
import type { Kind, Outcome } from '../../protocol/tasks.ts';
import type { Claim, LeaseRef } from '../../protocol/runner.ts';
import type * as S from '../types.ts';
import {
  prepareStatements,
  StatementCache,
  type Prepared,
  type Transaction,
} from './statements.ts';
import { TASK_COLUMNS, taskFromValues, type TaskValues } from './rows.ts';

const LOST: Outcome = {
  status: 'lost',
  error: { kind: 'lost', message: 'Lease expired: the runner stopped reporting', retryable: false },
};
const CANCELLED_UNCONFIRMED: Outcome = {
  status: 'cancelled',
  error: {
    kind: 'cancelled',
    message: 'Cancelled; the runner stopped reporting before confirming',
    retryable: false,
  },
};

const CLEAR_LEASE = 'lease_token = NULL, lease_expires_at = NULL, lease_legacy = 0';
const FENCE = "id = @id AND lease_token = @token AND state = 'running'";

const SQL = {
  lease: `UPDATE tasks SET state = 'running', attempt = attempt + 1, runner = @runner,
      lease_token = @token, lease_expires_at = @expiresAt, lease_legacy = @legacy,
      started_at = @now, updated_at = @now
    WHERE id = @id AND state IN ('queued', 'scheduled') RETURNING ${TASK_COLUMNS}`,
  // MAX: a heartbeat never shortens a lease (a legacy lease already runs to timeout + leaseMs).
  extend: `UPDATE tasks SET lease_expires_at = MAX(lease_expires_at, @expiresAt), updated_at = @now
    WHERE ${FENCE} AND runner = @runner AND lease_expires_at > @now
    RETURNING lease_expires_at, cancel_requested_at`,
  leaseOf: `SELECT lease_token, runner, lease_legacy, attempt, lease_expires_at FROM tasks
    WHERE id = ? AND state = 'running' AND lease_token IS NOT NULL`,
  // A cancel request wins over a retry: the attempt then ends with its own outcome.
  retry: `UPDATE tasks SET state = 'queued', run_at = @retryAt, outcome = @outcome,
      updated_at = @now, ${CLEAR_LEASE}
    WHERE ${FENCE} AND cancel_requested_at IS NULL RETURNING ${TASK_COLUMNS}`,
  finish: `UPDATE tasks SET state = @status, outcome = @outcome, finished_at = @now,
      updated_at = @now, ${CLEAR_LEASE}
    WHERE ${FENCE} RETURNING ${TASK_COLUMNS}`,
  // Undelivered: undo the claim itself, so the attempt is not counted and the task looks unclaimed.
  release: `UPDATE tasks SET state = 'queued', attempt = attempt - 1, updated_at = @now,
      started_at = CASE WHEN attempt = 1 THEN NULL ELSE started_at END, ${CLEAR_LEASE}
    WHERE ${FENCE} RETURNING ${TASK_COLUMNS}`,
  expired: `SELECT id, attempt, max_attempts, cancel_requested_at FROM tasks INDEXED BY tasks_expiry
    WHERE state = 'running' AND lease_expires_at <= ? ORDER BY lease_expires_at LIMIT ?`,
  requeue: `UPDATE tasks SET state = 'queued', updated_at = @now, ${CLEAR_LEASE}
    WHERE id = @id AND state = 'running' RETURNING ${TASK_COLUMNS}`,
  endExpired: `UPDATE tasks SET state = @status, outcome = @outcome, finished_at = @now,
      updated_at = @now, ${CLEAR_LEASE}
    WHERE id = @id AND state = 'running' RETURNING ${TASK_COLUMNS}`,
} as const;

interface Candidate {
  id: string;
  timeout_ms: number;
}

interface ExpiredRow {
  id: string;
  attempt: number;
  max_attempts: number;
  cancel_requested_at: number | null;
}

interface ExtendedRow {
  lease_expires_at: number;
  cancel_requested_at: number | null;
}

interface LeaseRow {
  lease_token: string;
  runner: string;
  lease_legacy: number;
  attempt: number;
  lease_expires_at: number;
}

export class LeaseQueries {
  private readonly candidates: StatementCache;
  private readonly statements: Prepared<typeof SQL>;
  private readonly claimTx: Transaction<[S.ClaimRequest, Kind[]], Claim[]>;
  private readonly extendTx: Transaction<[string, LeaseRef[], number, number], S.HeartbeatResult>;
  private readonly finishTx: Transaction<[S.FinishRequest], TaskValues | undefined>;
  private readonly requeueTx: Transaction<[number, number], TaskValues[]>;
  private readonly releaseTx: Transaction<[LeaseRef[], number], TaskValues[]>;

  constructor(db: Database.Database) {
    this.candidates = new StatementCache(db);
    this.statements = prepareStatements(db, SQL);
    this.claimTx = db.transaction((req: S.ClaimRequest, kinds: Kind[]) =>
      this.claimInTx(req, kinds),
    );
    this.extendTx = db.transaction(
      (runner: string, refs: LeaseRef[], leaseMs: number, now: number) =>
        this.extendInTx(runner, refs, leaseMs, now),
    );
    this.finishTx = db.transaction((req: S.FinishRequest) => this.finishInTx(req));
    this.requeueTx = db.transaction((now: number, limit: number) => this.requeueInTx(now, limit));
    this.releaseTx = db.transaction((refs: LeaseRef[], now: number) =>
      refs.flatMap(({ taskId, leaseToken }) => {
        const row = this.statements.release.get({ id: taskId, token: leaseToken, now });
        return row === undefined ? [] : [row as TaskValues];
      }),
    );
  }

  /**
   * The hot path. Claims run in BEGIN IMMEDIATE: a deferred transaction would read under a shared
   * lock and then fail with SQLITE_BUSY when upgrading to write while another process holds the
   * lock (busy_timeout cannot help there); IMMEDIATE queues for the write lock up front instead.
   * An empty poll never takes the lock: a plain read of the WAL snapshot answers it first.
   */
  claimTasks(req: S.ClaimRequest): Claim[] {
    const kinds = [...new Set(req.kinds)];
    if (kinds.length === 0 || !(req.max >= 1)) return [];
    if (this.findCandidates(req, kinds, 1).length === 0) return [];
    return this.claimTx.immediate(req, kinds);
  }

  private claimInTx(req: S.ClaimRequest, kinds: Kind[]): Claim[] {
    return this.findCandidates(req, kinds, req.max).map((c) => this.leaseOne(c, req));
  }

  /**
   * INDEXED BY pins the plan: without table statistics SQLite prefers (state, id) and sorts the
   * whole backlog per claim; walking tasks_claim in order stops after `limit` matches instead.
   * The `state IN (...)` term must match the partial index's WHERE verbatim.
   * The LIMIT is a literal because a bound LIMIT makes SQLite re-prepare the statement on every
   * run (measured: ~10 µs on a 1.5 µs query); rounding it up to a power of two bounds the cache
   * at 9 limits × 5 kind counts.
   */
  private findCandidates(req: S.ClaimRequest, kinds: Kind[], limit: number): Candidate[] {
    const bucket = 2 ** Math.ceil(Math.log2(limit));
    const sql = `SELECT id, timeout_ms FROM tasks INDEXED BY tasks_claim
      WHERE state IN ('queued', 'scheduled') AND run_at <= ?
        AND kind IN (${kinds.map(() => '?').join(', ')})
        AND (target_runner IS NULL OR target_runner = ?) AND (? = 0 OR legacy_compatible = 1)
      ORDER BY priority DESC, run_at, id LIMIT ${bucket}`;
    const params = [req.now, ...kinds, req.runner, req.legacy === true ? 1 : 0];
    const rows = this.candidates.get(sql).all(...params) as Candidate[];
    return rows.length > limit ? rows.slice(0, limit) : rows;
  }

  private leaseOne(candidate: Candidate, req: S.ClaimRequest): Claim {
    const token = newSecret();
    const legacy = req.legacy === true;
    // Legacy pollers never heartbeat, so their lease must outlast the task's own timeout.
    const expiresAt = req.now + req.leaseMs + (legacy ? candidate.timeout_ms : 0);
    const { id } = candidate;
    const params = {
      id,
      runner: req.runner,
      token,
      expiresAt,
      legacy: legacy ? 1 : 0,
      now: req.now,
    };
    const task = taskFromValues(this.statements.lease.get(params) as TaskValues);
    return { task, attempt: task.attempt, leaseToken: token, leaseExpiresAt: expiresAt };
  }

  extendLeases(runner: string, refs: LeaseRef[], leaseMs: number, now: number): S.HeartbeatResult {
    if (refs.length === 0) return { leases: [], lost: [], cancel: [] };
    return this.extendTx.immediate(runner, refs, leaseMs, now);
  }

  private extendInTx(
    runner: string,
    refs: LeaseRef[],
    leaseMs: number,
    now: number,
  ): S.HeartbeatResult {
    const result: S.HeartbeatResult = { leases: [], lost: [], cancel: [] };
    for (const { taskId, leaseToken } of refs) {
      const params = { id: taskId, token: leaseToken, runner, now, expiresAt: now + leaseMs };
      const row = this.statements.extend.get(params) as ExtendedRow | undefined;
      if (row === undefined) {
        result.lost.push(taskId);
        continue;
      }
      result.leases.push({ taskId, leaseExpiresAt: row.lease_expires_at });
      if (row.cancel_requested_at !== null) result.cancel.push(taskId);
    }
    return result;
  }

  getLease(taskId: string): S.LeaseInfo | undefined {
    const row = this.statements.leaseOf.get(taskId) as LeaseRow | undefined;
    if (row === undefined) return undefined;
    const { lease_token: leaseToken, runner, attempt, lease_expires_at: leaseExpiresAt } = row;
    return { leaseToken, runner, legacy: row.lease_legacy === 1, attempt, leaseExpiresAt };
  }

  /**
   * Fenced by the lease token alone, not by expiry: a lease that expired but was not yet requeued
   * still finishes, since nobody else holds the task. Once requeueExpired clears the token (or a
   * new claim replaces it), the old token matches nothing and this returns undefined.
   */
  finishAttempt(req: S.FinishRequest): S.StoredTask | undefined {
    const values = this.finishTx.immediate(req);
    return values === undefined ? undefined : taskFromValues(values);
  }

  private finishInTx(req: S.FinishRequest): TaskValues | undefined {
    const { taskId: id, leaseToken: token, now, retryAt, outcome } = req;
    const base = { id, token, now, outcome: JSON.stringify(outcome) };
    const retried =
      retryAt === undefined ? undefined : this.statements.retry.get({ ...base, retryAt });
    const values = retried ?? this.statements.finish.get({ ...base, status: outcome.status });
    return values as TaskValues | undefined;
  }

  releaseLeases(refs: LeaseRef[], now: number): S.StoredTask[] {
    if (refs.length === 0) return [];
    return this.releaseTx.immediate(refs, now).map(taskFromValues);
  }

  /** Reaps expired leases, oldest first; a plain read skips the write lock when none expired. */
  requeueExpired(now: number, limit: number): S.StoredTask[] {
    if (!(limit >= 1) || this.statements.expired.get(now, 1) === undefined) return [];
    return this.requeueTx.immediate(now, limit).map(taskFromValues);
  }

  private requeueInTx(now: number, limit: number): TaskValues[] {
    const expired = this.statements.expired.all(now, limit) as ExpiredRow[];
    return expired.map((row) => this.endExpiredAttempt(row, now));
  }

  /** Cancel requested → cancelled; attempts left → queued again; otherwise → lost. */
  private endExpiredAttempt(row: ExpiredRow, now: number): TaskValues {
    const { id } = row;
    const end = (outcome: Outcome) =>
      this.statements.endExpired.get({
        id,
        now,
        status: outcome.status,
        outcome: JSON.stringify(outcome),
      });
    if (row.cancel_requested_at !== null) return end(CANCELLED_UNCONFIRMED) as TaskValues;
    if (row.attempt < row.max_attempts)
      return this.statements.requeue.get({ id, now }) as TaskValues;
    return end(LOST) as TaskValues;
  }
}
