// Approvals in the PostgreSQL store: a runner holds its leased task for a person's decision (state
// 'held', the lease kept and fenced by its token), a decision made through the API is recorded on
// the hold for the runner's next heartbeat, and an approved task resumes in the same attempt.
// Each change logs its event with logTask, which also tells other servers (a follower on another
// replica sees the task go held, get its decision, and run again).
import type { HoldDecision, TaskHold } from '../../protocol/approvals.ts';
import type * as S from '../types.ts';
import type { Database, Tx } from './database.ts';
import { TASK_COLUMNS, taskFromRow, type TaskRow } from './rows.ts';
import { logTask } from './event-log.ts';
import { FENCE } from './lease-shared.ts';

const SQL = {
  hold: `UPDATE tasks SET state = 'held', hold = $3::jsonb, updated_at = $4
    WHERE ${FENCE} RETURNING ${TASK_COLUMNS}`,
  resume: `UPDATE tasks SET state = 'running', hold = $3::jsonb, updated_at = $4
    WHERE ${FENCE} AND state = 'held' RETURNING ${TASK_COLUMNS}`,
  // Only a task its runner holds (a lease): a session turn waiting its turn is also 'held'. The
  // row is locked, so a decision and a resume of one task take turns under READ COMMITTED
  // instead of each writing a hold built from what the other had not yet committed.
  heldById: `SELECT ${TASK_COLUMNS} FROM tasks
    WHERE id = $1 AND state = 'held' AND lease_token IS NOT NULL FOR UPDATE`,
  decide: `UPDATE tasks SET hold = $2::jsonb, updated_at = $3
    WHERE id = $1 AND state = 'held' AND lease_token IS NOT NULL RETURNING ${TASK_COLUMNS}`,
  exists: 'SELECT 1 FROM tasks WHERE id = $1',
} as const;

export class HoldQueries {
  constructor(private readonly db: Database) {}

  async holdAttempt(req: S.HoldRequest): Promise<S.StoredTask | undefined> {
    const { taskId: id, leaseToken: token, reason, rule, expiresAt, now } = req;
    const row = await this.db.transaction(async (tx) => {
      const hold: TaskHold = { reason, rule, heldAt: now, expiresAt };
      // A decision recorded after the one the runner refused must survive this hold: a person may
      // approve (signed) right after a forged approval was turned down. The row lock orders this
      // against a decision being recorded.
      const current = await tx.row<TaskRow>(SQL.heldById, [id]);
      const kept = current === undefined ? undefined : holdOf(current).decision;
      if (kept !== undefined && kept.at !== req.refusedAt) hold.decision = kept;
      const held = await tx.row<TaskRow>(SQL.hold, [id, token, JSON.stringify(hold), now]);
      if (held !== undefined) logTask(tx, 'task.held', held, now, { reason, rule });
      return held;
    });
    return row === undefined ? undefined : taskFromRow(row);
  }

  async resumeAttempt(
    id: string,
    token: string,
    decision: HoldDecision,
    now: number,
  ): Promise<S.StoredTask | undefined> {
    const row = await this.db.transaction(async (tx) => {
      const current = await tx.row<TaskRow>(SQL.heldById, [id]);
      if (current === undefined) return undefined;
      const hold = JSON.stringify({ ...holdOf(current), decision });
      const resumed = await tx.row<TaskRow>(SQL.resume, [id, token, hold, now]);
      if (resumed !== undefined) {
        logTask(tx, 'task.resumed', resumed, now, { by: decision.by, source: decision.source });
      }
      return resumed;
    });
    return row === undefined ? undefined : taskFromRow(row);
  }

  decideHold(id: string, decision: HoldDecision, now: number): Promise<S.DecideResult> {
    return this.db.transaction((tx) => this.decideInTx(tx, id, decision, now));
  }

  private async decideInTx(
    tx: Tx,
    id: string,
    decision: HoldDecision,
    now: number,
  ): Promise<S.DecideResult> {
    const current = await tx.row<TaskRow>(SQL.heldById, [id]);
    if (current === undefined) {
      return { refused: (await tx.row(SQL.exists, [id])) === undefined ? 'not_found' : 'not_held' };
    }
    const hold = JSON.stringify({ ...holdOf(current), decision });
    const row = (await tx.row<TaskRow>(SQL.decide, [id, hold, now]))!;
    const data = { by: decision.by, signed: decision.signature !== undefined };
    logTask(tx, `task.${decision.decision}`, row, now, data);
    return { task: taskFromRow(row) };
  }
}

/** A decision made through the API about a task still held: the runner has not acted on it yet. */
export function pendingDecision(state: string, hold: TaskHold | null): HoldDecision | undefined {
  if (state !== 'held' || hold === null) return undefined;
  return hold.decision;
}

function holdOf(row: TaskRow): TaskHold {
  return row.hold ?? { reason: '', rule: '', heldAt: 0, expiresAt: 0 };
}
