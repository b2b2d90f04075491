// Callbacks in the PostgreSQL store: rows inserted with their task, found due once the task has
// ended, claimed for delivery, advanced part by part, and settled. Each change logs its event in
// the same transaction. The secret leaves this file only inside a ClaimedCallback.
import type { CallbackStatus } from '../../protocol/callbacks.ts';
import { TERMINAL_SQL } from '../terminal-sql.ts';
import type * as S from '../types.ts';
import { claimedFromRow, eventData, statusFromRow, type CallbackRow } from '../callback-rows.ts';
import type { Database, Tx } from './database.ts';
import type { EventLog } from './event-log.ts';

/** A row not yet delivered nor given up, whose task has ended, with no live claim; $1 is now. */
const DUE = `c.state IN ('waiting', 'sending') AND c.next_at <= $1
  AND (c.claimed_until IS NULL OR c.claimed_until <= $1) AND t.state IN (${TERMINAL_SQL})`;
/** $2 is the callback id, $3 its claim token. */
const FENCE = 'id = $2 AND claim_token = $3';
const ROW = `c.id, c.task_id, c.kind, c.target, c.secret, c.state, c.attempts, c.parts, c.sent_parts,
  c.last_error, c.sent_at`;

const SQL = {
  insert: `INSERT INTO callbacks (task_id, kind, target, secret, state, next_at, created_at, updated_at)
    SELECT $1, kind, target, secret, 'waiting', $2, $2, $2
    FROM unnest($3::text[], $4::text[], $5::text[]) AS n(kind, target, secret)`,
  byTask: `SELECT ${ROW} FROM callbacks c WHERE c.task_id = $1 ORDER BY c.id`,
  due: `SELECT c.id FROM callbacks c JOIN tasks t ON t.id = c.task_id
    WHERE ${DUE} ORDER BY c.next_at LIMIT $2`,
  dueOfTasks: `SELECT c.id FROM callbacks c JOIN tasks t ON t.id = c.task_id
    WHERE c.task_id = ANY($3::text[]) AND ${DUE} ORDER BY c.id LIMIT $2`,
  nextDue: `SELECT MIN(GREATEST(c.next_at, COALESCE(c.claimed_until, 0))) AS at
    FROM callbacks c JOIN tasks t ON t.id = c.task_id
    WHERE c.state IN ('waiting', 'sending') AND t.state IN (${TERMINAL_SQL})`,
  // FOR UPDATE OF c: a second claimer waits for the first, then finds the row no longer due.
  dueRow: `SELECT ${ROW} FROM callbacks c JOIN tasks t ON t.id = c.task_id
    WHERE c.id = $2 AND ${DUE} FOR UPDATE OF c`,
  claim: `UPDATE callbacks SET state = 'sending', claim_token = $3, claimed_until = $4,
      updated_at = $1 WHERE id = $2`,
  progress: `UPDATE callbacks SET parts = $4, sent_parts = $5, claimed_until = $6, updated_at = $1
    WHERE ${FENCE} AND state = 'sending'`,
  sent: `UPDATE callbacks SET state = 'sent', attempts = attempts + 1, sent_at = $1,
      last_error = NULL, secret = NULL, claim_token = NULL, claimed_until = NULL, updated_at = $1
    WHERE ${FENCE} RETURNING ${ROW.replaceAll('c.', '')}`,
  // A counted failure waits as `waiting` (the next attempt logs a new dispatch); a rate-limit
  // wait stays `sending`: the same attempt goes on.
  retry: `UPDATE callbacks SET state = CASE WHEN $4::boolean THEN 'waiting' ELSE 'sending' END,
      attempts = attempts + CASE WHEN $4::boolean THEN 1 ELSE 0 END, next_at = $5, last_error = $6,
      claim_token = NULL, claimed_until = NULL, updated_at = $1
    WHERE ${FENCE} RETURNING id`,
  failed: `UPDATE callbacks SET state = 'failed', attempts = attempts + 1, last_error = $4,
      secret = NULL, claim_token = NULL, claimed_until = NULL, updated_at = $1
    WHERE ${FENCE} RETURNING ${ROW.replaceAll('c.', '')}`,
  release: `UPDATE callbacks SET claim_token = NULL, claimed_until = NULL, updated_at = $1
    WHERE claim_token IS NOT NULL`,
} as const;

export class CallbackQueries {
  constructor(
    private readonly db: Database,
    private readonly events: EventLog,
  ) {}

  /** Call inside the task's create transaction: a task and its callbacks commit together. */
  async insertAll(
    tx: Tx,
    taskId: string,
    callbacks: readonly S.NewCallback[],
    now: number,
  ): Promise<void> {
    if (callbacks.length === 0) return;
    await tx.run(SQL.insert, [
      taskId,
      now,
      callbacks.map((c) => c.kind),
      callbacks.map((c) => c.target),
      callbacks.map((c) => c.secret ?? null),
    ]);
  }

  async list(taskId: string): Promise<CallbackStatus[]> {
    return (await this.db.rows<CallbackRow>(SQL.byTask, [taskId])).map(statusFromRow);
  }

  async findDue(now: number, limit: number, taskIds?: readonly string[]): Promise<number[]> {
    const rows =
      taskIds === undefined
        ? await this.db.rows<{ id: number }>(SQL.due, [now, limit])
        : await this.db.rows<{ id: number }>(SQL.dueOfTasks, [now, limit, taskIds]);
    return rows.map((r) => r.id);
  }

  async nextDueAt(): Promise<number | undefined> {
    return (await this.db.row<{ at: number | null }>(SQL.nextDue))?.at ?? undefined;
  }

  claim(req: S.CallbackClaimRequest): Promise<S.ClaimedCallback | undefined> {
    return this.db.transaction(async (tx) => {
      const row = await tx.row<CallbackRow>(SQL.dueRow, [req.now, req.id]);
      if (row === undefined) return undefined;
      await tx.run(SQL.claim, [req.now, req.id, req.claimToken, req.claimedUntil]);
      // `waiting` means an attempt begins; `sending` goes on with one (a rate-limit wait, a restart).
      if (row.state === 'waiting') {
        const data: Record<string, unknown> = { ...eventData(row), attempt: row.attempts + 1 };
        if (row.last_error !== null) data.previousError = row.last_error;
        await this.events.append(
          tx,
          { type: 'callback.dispatched', taskId: row.task_id, data },
          req.now,
        );
      }
      return claimedFromRow(row);
    });
  }

  async recordProgress(req: S.CallbackProgress): Promise<boolean> {
    const params = [req.now, req.id, req.claimToken, req.parts, req.sentParts, req.claimedUntil];
    return (await this.db.run(SQL.progress, params)) === 1;
  }

  settle(req: S.CallbackSettlement): Promise<boolean> {
    return this.db.transaction((tx) => this.settleInTx(tx, req));
  }

  private async settleInTx(tx: Tx, req: S.CallbackSettlement): Promise<boolean> {
    const fence = [req.now, req.id, req.claimToken];
    if (req.result === 'retry') {
      const params = [...fence, req.counted, req.nextAt, req.error];
      return (await tx.row(SQL.retry, params)) !== undefined;
    }
    const row =
      req.result === 'sent'
        ? await tx.row<CallbackRow>(SQL.sent, fence)
        : await tx.row<CallbackRow>(SQL.failed, [...fence, req.error]);
    if (row === undefined) return false;
    const type = req.result === 'sent' ? 'callback.sent' : 'callback.failed';
    const extra = req.result === 'failed' ? { error: req.error, ...req.data } : {};
    const data = { ...eventData(row), attempts: row.attempts, ...extra };
    await this.events.append(tx, { type, taskId: row.task_id, data }, req.now);
    return true;
  }

  releaseClaims(now: number): Promise<number> {
    return this.db.run(SQL.release, [now]);
  }
}
