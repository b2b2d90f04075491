// The lease side of the SQLite store: claim, heartbeat, finish, and giving back an undelivered
// claim (expiry lives in expiry-queries.ts). A lease token fences every write about a running
// attempt, so a runner that lost its lease can change nothing.
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
import { AT, TASK_COLUMNS, taskFromValues, type TaskValues } from './rows.ts';
import type { EventLog } from './event-log.ts';
import type { AttemptLog } from './attempt-log.ts';
import {
  CLEAR_HOLD,
  CLEAR_LEASE,
  END_LEASE,
  FENCE,
  FINISH_EVENT,
  type ClaimUndo,
} from './lease-shared.ts';
import type { HoldDecision, TaskHold } from '../../protocol/approvals.ts';
import type { SessionTurns } from './session-turns.ts';
import { mayRetry } from '../retry-rule.ts';
import { TERMINAL_SQL } from '../terminal-sql.ts';

/** A finish names the runner its token is bound to (null for any other principal). */
const HELD_BY = '(@runner IS NULL OR runner = @runner)';

const SQL = {
  lease: `UPDATE tasks SET state = 'running', attempt = attempt + 1, runner = @runner,
      lease_token = @token, lease_expires_at = @expiresAt, lease_legacy = @legacy,
      lease_instance = @instance, lease_acked = @acked, started_at = @now, updated_at = @now
    WHERE id = @id AND state IN ('queued', 'scheduled') RETURNING ${TASK_COLUMNS}`,
  // MAX: a heartbeat never shortens a lease (a legacy lease already runs to timeout + leaseMs).
  // A heartbeat also acknowledges the claim: from then on the attempt counts if the lease expires.
  extend: `UPDATE tasks SET lease_expires_at = MAX(lease_expires_at, @expiresAt), updated_at = @now,
      lease_acked = 1
    WHERE ${FENCE} AND runner = @runner AND lease_expires_at > @now
    RETURNING lease_expires_at, cancel_requested_at, state, hold`,
  leaseOf: `SELECT lease_token, runner, lease_legacy, attempt, lease_expires_at FROM tasks
    WHERE id = ? AND state IN ('running', 'held') AND lease_token IS NOT NULL`,
  // Only failures retry, only while attempts remain, and a cancel request wins over a retry. The
  // backoff doubles per attempt (the shift is capped so it cannot overflow) up to maxMs.
  retry: `UPDATE tasks SET state = 'queued', outcome = @outcome, updated_at = @now, ${CLEAR_HOLD},
      run_at = @now + CAST(MIN(@maxMs, @baseMs * (1 << MIN(attempt - 1, 30))) * @jitter AS INTEGER),
      ${CLEAR_LEASE}
    WHERE ${FENCE} AND ${HELD_BY} AND cancel_requested_at IS NULL AND attempt < max_attempts
      AND @status IN ('failed', 'timed_out') AND (@retryable = 1 OR retry_on_failure = 1)
    RETURNING ${TASK_COLUMNS}`,
  finish: `UPDATE tasks SET state = @status, outcome = @outcome, finished_at = @now,
      updated_at = @now, ${END_LEASE}
    WHERE ${FENCE} AND ${HELD_BY} RETURNING ${TASK_COLUMNS}`,
  endedUnder: `SELECT 1 FROM tasks WHERE id = ? AND lease_token = ? AND state IN (${TERMINAL_SQL})`,
  runningWithKey: `SELECT COUNT(*) FROM tasks INDEXED BY tasks_concurrency_running
    WHERE concurrency_key = ? AND state = 'running'`,
} as const;

/**
 * Labels: a task that requires none (NULL) costs nothing more; one that does is taken only if
 * every label it requires is among the labels of the claiming runner's registry row. Reading them
 * from the registry, not from the claim, keeps one source of truth: what `GET /v1/runners` shows
 * is what routing uses, on every replica, with no protocol change.
 */
const LABELS_MATCH = `(target_labels IS NULL OR NOT EXISTS (
    SELECT 1 FROM json_each(target_labels) AS need WHERE need.value NOT IN (
      SELECT have.value FROM runners, json_each(runners.labels) AS have WHERE runners.name = ?)))`;

/**
 * Concurrency keys: a keyed task is a candidate only while its key has a free slot. The count is
 * read again for each lease inside the claim's transaction (see claimInTx), which is what makes
 * the limit hold across one batch and across concurrent claimers.
 */
const KEY_HAS_SLOT = `(concurrency_key IS NULL OR concurrency_limit > (
    SELECT COUNT(*) FROM tasks AS held INDEXED BY tasks_concurrency_running
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
  hold: string | null;
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
  private readonly releaseTx: Transaction<[LeaseRef[], number], TaskValues[]>;

  constructor(
    db: Database.Database,
    private readonly events: EventLog,
    private readonly attempts: AttemptLog,
    private readonly claims: ClaimUndo,
    private readonly turns: SessionTurns,
  ) {
    this.candidates = new StatementCache(db);
    this.statements = prepareStatements(db, SQL);
    this.releaseTx = db.transaction((refs: LeaseRef[], now: number) =>
      refs.flatMap((ref) => {
        // Wrapped: a row is itself an array, which flatMap would otherwise spread.
        const values = this.claims.undo(ref, now, 'claim not delivered');
        return values === undefined ? [] : [values];
      }),
    );
  }

  /**
   * The hot path, run in the store's write batch (BEGIN IMMEDIATE: a deferred transaction would
   * read under a shared lock and then fail with SQLITE_BUSY when upgrading to write while another
   * process holds the lock, which busy_timeout cannot help; IMMEDIATE queues for the write lock up
   * front instead). An empty poll never takes the lock: the store asks anyCandidate (a plain read
   * of the WAL snapshot) first, and only a claim that will lease joins a write batch.
   *
   * BEGIN IMMEDIATE serialises claimers, so a key's running count read here is exact; it is read
   * before each keyed lease because an earlier lease of this batch may have taken the last slot.
   * A candidate skipped that way leaves the batch short; the runner's next claim fills it.
   */
  claimInTx(req: S.ClaimRequest): Claim[] {
    const claims: Claim[] = [];
    for (const candidate of this.findCandidates(req, [...new Set(req.kinds)], req.max)) {
      if (this.keyIsFull(candidate)) continue;
      claims.push(this.leaseOne(candidate, req));
    }
    return claims;
  }

  /** A read only: true when a claim now would lease at least one task. */
  anyCandidate(req: S.ClaimRequest): boolean {
    const kinds = [...new Set(req.kinds)];
    if (kinds.length === 0 || !(req.max >= 1)) return false;
    return this.findCandidates(req, kinds, 1).length > 0;
  }

  private keyIsFull({ concurrency_key: key, concurrency_limit: limit }: Candidate): boolean {
    if (key === null) return false;
    const running = this.statements.runningWithKey.pluck().get(key) as number;
    return running >= (limit ?? 1);
  }

  /**
   * INDEXED BY pins the plan: without table statistics SQLite may prefer a state index and sort
   * the whole backlog per claim; walking tasks_claim in order stops after `limit` matches instead.
   * The `state IN (...)` term must match the partial index's WHERE verbatim.
   * The LIMIT is a literal because a bound LIMIT makes SQLite re-prepare the statement on every
   * run (measured: ~10 µs on a 1.5 µs query); rounding it up to a power of two bounds the cache
   * at 9 limits × 5 kind counts.
   */
  private findCandidates(req: S.ClaimRequest, kinds: Kind[], limit: number): Candidate[] {
    const bucket = 2 ** Math.ceil(Math.log2(limit));
    const agents = kinds.includes('agent') ? req.agents : undefined;
    // Only agent rows pay for the JSON read; a runner without `agents` takes any agent's turns.
    const agentTerm =
      agents === undefined
        ? ''
        : `AND (kind <> 'agent' OR json_extract(spec, '$.agent') IN (${agents.map(() => '?').join(', ') || 'NULL'}))`;
    const legacy = req.legacy === true;
    // Legacy pollers have no labels (nor a registry row): only tasks that require none.
    const labelTerm = legacy ? 'target_labels IS NULL' : LABELS_MATCH;
    const sql = `SELECT id, timeout_ms, concurrency_key, concurrency_limit
      FROM tasks INDEXED BY tasks_claim
      WHERE state IN ('queued', 'scheduled') AND run_at <= ?
        AND kind IN (${kinds.map(() => '?').join(', ')}) ${agentTerm}
        AND (target_runner IS NULL OR target_runner = ?) AND (? = 0 OR legacy_compatible = 1)
        AND ${labelTerm} AND ${KEY_HAS_SLOT}
      ORDER BY priority DESC, run_at, id LIMIT ${bucket}`;
    const params = [req.now, ...kinds, ...(agents ?? []), req.runner, legacy ? 1 : 0];
    if (!legacy) params.push(req.runner);
    const rows = this.candidates.get(sql).all(...params) as Candidate[];
    return rows.length > limit ? rows.slice(0, limit) : rows;
  }

  private leaseOne(candidate: Candidate, req: S.ClaimRequest): Claim {
    const token = newSecret();
    const legacy = req.legacy === true;
    // Legacy pollers never heartbeat, so their lease must outlast the task's own timeout.
    const expiresAt = req.now + req.leaseMs + (legacy ? candidate.timeout_ms : 0);
    const { id } = candidate;
    const { runner, instanceId, now } = req;
    const params = {
      id,
      runner,
      token,
      expiresAt,
      legacy: legacy ? 1 : 0,
      instance: instanceId ?? null,
      // Legacy pollers cannot acknowledge: their claim counts from the start.
      acked: legacy ? 1 : 0,
      now,
    };
    const values = this.statements.lease.get(params) as TaskValues;
    const task = taskFromValues(values);
    const resume = this.turns.resumeFor(task);
    if (resume !== undefined) task.spec = { ...task.spec, resume };
    this.events.logTask('task.started', values, now, { attempt: task.attempt });
    return { task, attempt: task.attempt, leaseToken: token, leaseExpiresAt: expiresAt };
  }

  /** Extends and acknowledges leases; the caller holds a write transaction (the write batch). */
  extendInTx(runner: string, refs: LeaseRef[], leaseMs: number, now: number): S.HeartbeatResult {
    const result: S.HeartbeatResult = { leases: [], lost: [], cancel: [], decisions: [] };
    for (const { taskId, leaseToken } of refs) {
      const params = { id: taskId, token: leaseToken, runner, now, expiresAt: now + leaseMs };
      const row = this.statements.extend.get(params) as ExtendedRow | undefined;
      if (row === undefined) {
        result.lost.push(taskId);
        continue;
      }
      result.leases.push({ taskId, leaseExpiresAt: row.lease_expires_at });
      if (row.cancel_requested_at !== null) result.cancel.push(taskId);
      const decision = pendingDecision(row);
      if (decision !== undefined) result.decisions.push({ taskId, decision });
    }
    return result;
  }

  getLease(taskId: string): S.LeaseInfo | undefined {
    const row = this.statements.leaseOf.get(taskId) as LeaseRow | undefined;
    if (row === undefined) return undefined;
    const { lease_token: leaseToken, runner, attempt, lease_expires_at: leaseExpiresAt } = row;
    return { leaseToken, runner, legacy: row.lease_legacy === 1, attempt, leaseExpiresAt };
  }

  /** True when the task ended by a finish under this lease token (END_LEASE keeps it). */
  endedUnder(taskId: string, leaseToken: string): boolean {
    return this.statements.endedUnder.get(taskId, leaseToken) !== undefined;
  }

  /**
   * Fenced by the lease token alone, not by expiry: a lease that expired but was not yet requeued
   * still finishes, since nobody else holds the task. Once requeueExpired clears the token (or a
   * new claim replaces it), the old token matches nothing and this returns undefined. The caller
   * holds a write transaction (the write batch: one commit for every finish of a turn).
   */
  finishInTx(req: S.FinishRequest): S.StoredTask | undefined {
    const values = this.finishValues(req);
    return values === undefined ? undefined : taskFromValues(values);
  }

  private finishValues(req: S.FinishRequest): TaskValues | undefined {
    const { taskId: id, leaseToken: token, now, outcome } = req;
    const { status } = outcome;
    const runner = req.runner ?? null;
    const base = { id, token, now, runner, outcome: JSON.stringify(outcome) };
    const reason = outcome.error?.message;
    if (mayRetry(req)) {
      const retryable = outcome.error?.retryable === true ? 1 : 0;
      const params = { ...base, ...req.retry, status, retryable };
      const retried = this.statements.retry.get(params) as TaskValues | undefined;
      if (retried !== undefined) {
        const attempt = retried[AT.attempt];
        this.attempts.end(id, attempt, status, reason, now);
        this.events.logTask('task.retrying', retried, now, {
          attempt,
          status,
          runAt: retried[AT.runAt],
        });
        this.turns.ended(retried, now, outcome);
        return retried;
      }
    }
    const values = this.statements.finish.get({ ...base, status }) as TaskValues | undefined;
    if (values === undefined) return undefined;
    const attempt = values[AT.attempt];
    this.attempts.end(id, attempt, status, reason, now);
    this.events.logTask(FINISH_EVENT[status], values, now, finishData(attempt, outcome));
    this.turns.ended(values, now, outcome);
    return values;
  }

  releaseLeases(refs: LeaseRef[], now: number): S.StoredTask[] {
    if (refs.length === 0) return [];
    return this.releaseTx.immediate(refs, now).map(taskFromValues);
  }
}

/** A decision made through the API about a task still held: the runner has not acted on it yet. */
function pendingDecision(row: ExtendedRow): HoldDecision | undefined {
  if (row.state !== 'held' || row.hold === null) return undefined;
  return (JSON.parse(row.hold) as TaskHold).decision;
}

function finishData(attempt: number, outcome: Outcome): Record<string, unknown> {
  const data: Record<string, unknown> = { attempt, status: outcome.status };
  if (outcome.exitCode !== undefined) data.exitCode = outcome.exitCode;
  if (outcome.error !== undefined) data.error = outcome.error.message.slice(0, 500);
  return data;
}
