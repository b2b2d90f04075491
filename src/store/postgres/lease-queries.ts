// The lease side of the PostgreSQL store: claim, heartbeat, finish, and giving back an
// undelivered claim (expiry lives in expiry-queries.ts). A lease token fences every write about a
// running attempt, so a runner that lost its lease can change nothing.
import { newSecret } from '../../lib/ids.ts';
import type { Kind, Outcome } from '../../protocol/tasks.ts';
import type { Claim, LeaseRef } from '../../protocol/runner.ts';
import type * as S from '../types.ts';
import type { Database, Tx } from './database.ts';
import { TASK_COLUMNS, taskFromRow, type TaskRow } from './rows.ts';
import { logTask } from './event-log.ts';
import type { AttemptLog } from './attempt-log.ts';
import {
  CLEAR_HOLD,
  CLEAR_LEASE,
  END_LEASE,
  FENCE,
  FINISH_EVENT,
  type ClaimUndo,
} from './lease-shared.ts';
import { TERMINAL_SQL } from '../terminal-sql.ts';
import { pendingDecision } from './hold-queries.ts';
import type { SessionTurns } from './session-turns.ts';
import type { TaskHold } from '../../protocol/approvals.ts';
import { mayRetry } from '../retry-rule.ts';

const SQL = {
  lease: `UPDATE tasks SET state = 'running', attempt = attempt + 1, runner = $2,
      lease_token = $3, lease_expires_at = $4, lease_legacy = $5, lease_instance = $6,
      lease_acked = $7, started_at = $8, updated_at = $8
    WHERE id = $1 AND state IN ('queued', 'scheduled') RETURNING ${TASK_COLUMNS}`,
  // GREATEST: a heartbeat never shortens a lease (a legacy lease already runs to timeout +
  // leaseMs). A heartbeat also acknowledges the claim: from then on the attempt counts.
  extend: `UPDATE tasks SET lease_expires_at = GREATEST(lease_expires_at, $5), updated_at = $4,
      lease_acked = TRUE
    WHERE ${FENCE} AND runner = $3 AND lease_expires_at > $4
    RETURNING lease_expires_at, cancel_requested_at, state, hold`,
  leaseOf: `SELECT lease_token, runner, lease_legacy, attempt, lease_expires_at FROM tasks
    WHERE id = $1 AND state IN ('running', 'held') AND lease_token IS NOT NULL`,
  // Only failures retry, only while attempts remain, and a cancel request wins over a retry. The
  // backoff doubles per attempt (the shift is capped so it cannot overflow) up to maxMs; trunc
  // rounds toward zero as SQLite's CAST does.
  retry: `UPDATE tasks SET state = 'queued', outcome = $4::jsonb, updated_at = $3, ${CLEAR_HOLD},
      run_at = $3 + trunc(LEAST($6::float8, $5::float8 * (1::bigint << LEAST(attempt - 1, 30)))
        * $7::float8)::bigint,
      ${CLEAR_LEASE}
    WHERE ${FENCE} AND ($10::text IS NULL OR runner = $10) AND cancel_requested_at IS NULL
      AND attempt < max_attempts
      AND $8::text IN ('failed', 'timed_out') AND ($9::boolean OR retry_on_failure)
    RETURNING ${TASK_COLUMNS}`,
  // $6: the runner a bound token names (null for any other principal).
  finish: `UPDATE tasks SET state = $5, outcome = $4::jsonb, finished_at = $3, updated_at = $3,
      ${END_LEASE}
    WHERE ${FENCE} AND ($6::text IS NULL OR runner = $6) RETURNING ${TASK_COLUMNS}`,
  endedUnder: `SELECT 1 AS ended FROM tasks WHERE id = $1 AND lease_token = $2
    AND state IN (${TERMINAL_SQL})`,
  runningWithKey: `SELECT COUNT(*) AS n FROM tasks
    WHERE concurrency_key = $1 AND state = 'running'`,
} as const;

/**
 * Labels: a task that requires none (NULL) costs nothing more; one that does is taken only if
 * its labels are all among those of the claiming runner's registry row ($3 is its name). No row:
 * the subquery is NULL, and so is the containment, so nothing labelled is taken.
 */
const LABELS_MATCH = `(target_labels IS NULL
    OR target_labels <@ (SELECT labels FROM runners WHERE runners.name = $3))`;

/**
 * Concurrency keys: a keyed task is a candidate only while its key has a free slot. Under READ
 * COMMITTED this read may be stale by the time of the lease, so claimInTx counts again under the
 * key's advisory lock; this term only keeps full keys from filling the batch.
 */
const KEY_HAS_SLOT = `(concurrency_key IS NULL OR COALESCE(concurrency_limit, 1) > (
    SELECT COUNT(*) FROM tasks AS held
    WHERE held.concurrency_key = tasks.concurrency_key AND held.state = 'running'))`;

interface Candidate {
  id: string;
  timeout_ms: number;
  concurrency_key: string | null;
  concurrency_limit: number | null;
}

interface ExtendedRow {
  lease_expires_at: number;
  cancel_requested_at: number | null;
  state: string;
  hold: TaskHold | null;
}

interface LeaseRow {
  lease_token: string;
  runner: string;
  lease_legacy: boolean;
  attempt: number;
  lease_expires_at: number;
}

export class LeaseQueries {
  constructor(
    private readonly db: Database,
    private readonly attempts: AttemptLog,
    private readonly claims: ClaimUndo,
    private readonly turns: SessionTurns,
  ) {}

  /**
   * The hot path. Candidates are locked with FOR UPDATE SKIP LOCKED in the claim's transaction:
   * concurrent claimers (other pools, other servers) pass over rows another claim holds instead
   * of waiting for them, so each task is leased once. An empty poll is answered by one plain
   * read, without a transaction.
   */
  async claimTasks(req: S.ClaimRequest): Promise<Claim[]> {
    const kinds = [...new Set(req.kinds)];
    if (kinds.length === 0 || !(req.max >= 1)) return [];
    if ((await this.findCandidates(this.db, req, kinds, 1, '')).length === 0) return [];
    return this.db.transaction(async (tx) => this.claimInTx(tx, req, kinds));
  }

  /**
   * SKIP LOCKED keeps two claimers off the same row but does not serialise claimers of one key:
   * each could count the same free slot and both lease. So each key of the batch is locked
   * (pg_advisory_xact_lock on schema and key, held to COMMIT) before its running tasks are
   * counted; the count is a new statement, so under READ COMMITTED it sees every lease committed
   * by whoever held the lock before. Keys are locked in sorted order, so two claimers with
   * overlapping keys cannot deadlock. A candidate whose key is full is left for a later claim.
   */
  private async claimInTx(tx: Tx, req: S.ClaimRequest, kinds: Kind[]): Promise<Claim[]> {
    const candidates = await this.findCandidates(tx, req, kinds, req.max, 'FOR UPDATE SKIP LOCKED');
    const keys = [...new Set(candidates.flatMap((c) => c.concurrency_key ?? []))].sort();
    const running = new Map<string, number>();
    for (const key of keys) {
      await tx.lock(`concurrency:${key}`);
      running.set(key, (await tx.row<{ n: number }>(SQL.runningWithKey, [key]))!.n);
    }
    const claims: Claim[] = [];
    for (const candidate of candidates) {
      const key = candidate.concurrency_key;
      if (key !== null) {
        const held = running.get(key)!;
        if (held >= (candidate.concurrency_limit ?? 1)) continue;
        running.set(key, held + 1);
      }
      claims.push(await this.leaseOne(tx, candidate, req));
    }
    return claims;
  }

  private findCandidates(
    db: Database | Tx,
    req: S.ClaimRequest,
    kinds: Kind[],
    limit: number,
    lock: string,
  ): Promise<Candidate[]> {
    const agents = kinds.includes('agent') ? req.agents : undefined;
    const legacy = req.legacy === true;
    const params: unknown[] = [req.now, kinds, req.runner, legacy, limit];
    // Only agent rows pay for the JSON read; a runner without `agents` takes any agent's turns.
    let agentTerm = '';
    if (agents !== undefined) {
      params.push([...agents]);
      agentTerm = `AND (kind <> 'agent' OR spec->>'agent' = ANY($6::text[]))`;
    }
    // Legacy pollers have no labels (nor a registry row): only tasks that require none.
    const labelTerm = legacy ? 'target_labels IS NULL' : LABELS_MATCH;
    const sql = `SELECT id, timeout_ms, concurrency_key, concurrency_limit FROM tasks
      WHERE state IN ('queued', 'scheduled') AND run_at <= $1 AND kind = ANY($2::text[]) ${agentTerm}
        AND (target_runner IS NULL OR target_runner = $3) AND (NOT $4::boolean OR legacy_compatible)
        AND ${labelTerm} AND ${KEY_HAS_SLOT}
      ORDER BY priority DESC, run_at, id LIMIT $5 ${lock}`;
    return db.rows<Candidate>(sql, params);
  }

  private async leaseOne(tx: Tx, candidate: Candidate, req: S.ClaimRequest): Promise<Claim> {
    const token = newSecret();
    const legacy = req.legacy === true;
    // Legacy pollers never heartbeat, so their lease must outlast the task's own timeout.
    const expiresAt = req.now + req.leaseMs + (legacy ? candidate.timeout_ms : 0);
    const { runner, instanceId, now } = req;
    // Legacy pollers cannot acknowledge: their claim counts from the start (lease_acked).
    const params = [
      candidate.id,
      runner,
      token,
      expiresAt,
      legacy,
      instanceId ?? null,
      legacy,
      now,
    ];
    const row = (await tx.row<TaskRow>(SQL.lease, params))!;
    const task = taskFromRow(row);
    const resume = await this.turns.resumeFor(tx, task);
    if (resume !== undefined) task.spec = { ...task.spec, resume };
    await this.attempts.start(tx, candidate.id, task.attempt, runner, instanceId, now);
    logTask(tx, 'task.started', row, now, { attempt: task.attempt });
    return { task, attempt: task.attempt, leaseToken: token, leaseExpiresAt: expiresAt };
  }

  async extendLeases(
    runner: string,
    refs: LeaseRef[],
    leaseMs: number,
    now: number,
  ): Promise<S.HeartbeatResult> {
    if (refs.length === 0) return { leases: [], lost: [], cancel: [], decisions: [] };
    return this.db.transaction(async (tx) => {
      const result: S.HeartbeatResult = { leases: [], lost: [], cancel: [], decisions: [] };
      for (const { taskId, leaseToken } of refs) {
        const params = [taskId, leaseToken, runner, now, now + leaseMs];
        const row = await tx.row<ExtendedRow>(SQL.extend, params);
        if (row === undefined) {
          result.lost.push(taskId);
          continue;
        }
        result.leases.push({ taskId, leaseExpiresAt: row.lease_expires_at });
        if (row.cancel_requested_at !== null) result.cancel.push(taskId);
        const decision = pendingDecision(row.state, row.hold);
        if (decision !== undefined) result.decisions.push({ taskId, decision });
      }
      return result;
    });
  }

  /** True when the task ended by a finish under this lease token (END_LEASE keeps it). */
  async endedUnder(taskId: string, leaseToken: string): Promise<boolean> {
    return (await this.db.row(SQL.endedUnder, [taskId, leaseToken])) !== undefined;
  }

  async getLease(taskId: string): Promise<S.LeaseInfo | undefined> {
    const row = await this.db.row<LeaseRow>(SQL.leaseOf, [taskId]);
    if (row === undefined) return undefined;
    const { lease_token: leaseToken, runner, attempt, lease_expires_at: leaseExpiresAt } = row;
    return { leaseToken, runner, legacy: row.lease_legacy, attempt, leaseExpiresAt };
  }

  /**
   * Fenced by the lease token alone, not by expiry: a lease that expired but was not yet requeued
   * still finishes, since nobody else holds the task.
   */
  async finishAttempt(req: S.FinishRequest): Promise<S.StoredTask | undefined> {
    const row = await this.db.transaction((tx) => this.finishInTx(tx, req));
    return row === undefined ? undefined : taskFromRow(row);
  }

  /**
   * One transaction, one COMMIT, for a runner's whole batch (the commit is most of a finish's
   * cost). Finished in order on one client: each is fenced by its own token, so a lost lease is
   * undefined in its place and the others still finish.
   */
  async finishAttempts(reqs: readonly S.FinishRequest[]): Promise<(S.StoredTask | undefined)[]> {
    if (reqs.length === 0) return [];
    const rows = await this.db.transaction(async (tx) => {
      const finished: (TaskRow | undefined)[] = [];
      for (const req of reqs) finished.push(await this.finishInTx(tx, req));
      return finished;
    });
    return rows.map((row) => (row === undefined ? undefined : taskFromRow(row)));
  }

  private async finishInTx(tx: Tx, req: S.FinishRequest): Promise<TaskRow | undefined> {
    const { taskId: id, leaseToken: token, now, outcome } = req;
    const { status } = outcome;
    const base = [id, token, now, JSON.stringify(outcome)];
    const reason = outcome.error?.message;
    if (mayRetry(req)) {
      const retryable = outcome.error?.retryable === true;
      const { baseMs, maxMs, jitter } = req.retry;
      const params = [...base, baseMs, maxMs, jitter, status, retryable, req.runner ?? null];
      const retried = await tx.row<TaskRow>(SQL.retry, params);
      if (retried !== undefined) {
        const attempt = retried.attempt;
        await this.attempts.end(tx, id, attempt, status, reason, now);
        logTask(tx, 'task.retrying', retried, now, { attempt, status, runAt: retried.run_at });
        await this.turns.ended(tx, retried, now, outcome);
        return retried;
      }
    }
    const row = await tx.row<TaskRow>(SQL.finish, [...base, status, req.runner ?? null]);
    if (row === undefined) return undefined;
    await this.attempts.end(tx, id, row.attempt, status, reason, now);
    logTask(tx, FINISH_EVENT[status], row, now, finishData(row.attempt, outcome));
    await this.turns.ended(tx, row, now, outcome);
    return row;
  }

  async releaseLeases(refs: LeaseRef[], now: number): Promise<S.StoredTask[]> {
    if (refs.length === 0) return [];
    const rows = await this.db.transaction(async (tx) => {
      const released: TaskRow[] = [];
      for (const ref of refs) {
        const row = await this.claims.undo(tx, ref, now, 'claim not delivered');
        if (row !== undefined) released.push(row);
      }
      return released;
    });
    return rows.map(taskFromRow);
  }
}

function finishData(attempt: number, outcome: Outcome): Record<string, unknown> {
  const data: Record<string, unknown> = { attempt, status: outcome.status };
  if (outcome.exitCode !== undefined) data.exitCode = outcome.exitCode;
  if (outcome.error !== undefined) data.error = outcome.error.message.slice(0, 500);
  return data;
}
