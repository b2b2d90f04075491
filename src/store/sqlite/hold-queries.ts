// Approvals in the SQLite store: a runner holds its leased task for a person's decision (state
// 'held', the lease kept and fenced by its token), a decision made through the API is recorded on
// the hold for the runner's next heartbeat, and an approved task resumes in the same attempt.
import type Database from 'better-sqlite3';
import type { HoldDecision, TaskHold } from '../../protocol/approvals.ts';
import type * as S from '../types.ts';
import { prepareStatements, type Prepared, type Transaction } from './statements.ts';
import { AT, TASK_COLUMNS, taskFromValues, type TaskValues } from './rows.ts';
import type { EventLog } from './event-log.ts';
import { FENCE } from './lease-shared.ts';

const SQL = {
  hold: `UPDATE tasks SET state = 'held', hold = @hold, updated_at = @now
    WHERE ${FENCE} RETURNING ${TASK_COLUMNS}`,
  resume: `UPDATE tasks SET state = 'running', hold = @hold, updated_at = @now
    WHERE ${FENCE} AND state = 'held' RETURNING ${TASK_COLUMNS}`,
  // Only a task its runner holds (a lease): a session turn waiting its turn is also 'held'.
  heldById: `SELECT ${TASK_COLUMNS} FROM tasks
    WHERE id = ? AND state = 'held' AND lease_token IS NOT NULL`,
  decide: `UPDATE tasks SET hold = @hold, updated_at = @now
    WHERE id = @id AND state = 'held' AND lease_token IS NOT NULL RETURNING ${TASK_COLUMNS}`,
  exists: 'SELECT 1 FROM tasks WHERE id = ?',
} as const;

export class HoldQueries {
  private readonly statements: Prepared<typeof SQL>;
  private readonly holdTx: Transaction<[S.HoldRequest], TaskValues | undefined>;
  private readonly resumeTx: Transaction<
    [string, string, HoldDecision, number],
    TaskValues | undefined
  >;
  private readonly decideTx: Transaction<[string, HoldDecision, number], S.DecideResult>;

  constructor(
    db: Database.Database,
    private readonly events: EventLog,
  ) {
    this.statements = prepareStatements(db, SQL);
    this.holdTx = db.transaction((req: S.HoldRequest) => this.holdInTx(req));
    this.resumeTx = db.transaction(
      (id: string, token: string, decision: HoldDecision, now: number) =>
        this.resumeInTx(id, token, decision, now),
    );
    this.decideTx = db.transaction((id: string, decision: HoldDecision, now: number) =>
      this.decideInTx(id, decision, now),
    );
  }

  holdAttempt(req: S.HoldRequest): S.StoredTask | undefined {
    const values = this.holdTx.immediate(req);
    return values === undefined ? undefined : taskFromValues(values);
  }

  resumeAttempt(
    taskId: string,
    leaseToken: string,
    decision: HoldDecision,
    now: number,
  ): S.StoredTask | undefined {
    const values = this.resumeTx.immediate(taskId, leaseToken, decision, now);
    return values === undefined ? undefined : taskFromValues(values);
  }

  decideHold(taskId: string, decision: HoldDecision, now: number): S.DecideResult {
    return this.decideTx.immediate(taskId, decision, now);
  }

  private holdInTx(req: S.HoldRequest): TaskValues | undefined {
    const { taskId: id, leaseToken: token, reason, rule, expiresAt, now } = req;
    const hold: TaskHold = { reason, rule, heldAt: now, expiresAt };
    // A decision recorded after the one the runner refused must survive this hold: a person may
    // approve (signed) right after a forged approval was turned down.
    const current = this.statements.heldById.get(id) as TaskValues | undefined;
    const kept = current === undefined ? undefined : holdOf(current).decision;
    if (kept !== undefined && kept.at !== req.refusedAt) hold.decision = kept;
    const params = { id, token, now, hold: JSON.stringify(hold) };
    const values = this.statements.hold.get(params) as TaskValues | undefined;
    if (values !== undefined) this.events.logTask('task.held', values, now, { reason, rule });
    return values;
  }

  private resumeInTx(
    id: string,
    token: string,
    decision: HoldDecision,
    now: number,
  ): TaskValues | undefined {
    const current = this.statements.heldById.get(id) as TaskValues | undefined;
    if (current === undefined) return undefined;
    const hold = { ...holdOf(current), decision };
    const params = { id, token, now, hold: JSON.stringify(hold) };
    const values = this.statements.resume.get(params) as TaskValues | undefined;
    if (values !== undefined) {
      this.events.logTask('task.resumed', values, now, {
        by: decision.by,
        source: decision.source,
      });
    }
    return values;
  }

  private decideInTx(id: string, decision: HoldDecision, now: number): S.DecideResult {
    const current = this.statements.heldById.get(id) as TaskValues | undefined;
    if (current === undefined) {
      return { refused: this.statements.exists.get(id) === undefined ? 'not_found' : 'not_held' };
    }
    const hold = { ...holdOf(current), decision };
    const values = this.statements.decide.get({
      id,
      now,
      hold: JSON.stringify(hold),
    }) as TaskValues;
    const data = { by: decision.by, signed: decision.signature !== undefined };
    this.events.logTask(`task.${decision.decision}`, values, now, data);
    return { task: taskFromValues(values) };
  }
}

function holdOf(values: TaskValues): TaskHold {
  const text = values[AT.hold];
  return text === null
    ? { reason: '', rule: '', heldAt: 0, expiresAt: 0 }
    : (JSON.parse(text) as TaskHold);
}
