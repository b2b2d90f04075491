// The turns of one agent session, inside the transactions that change tasks: a turn submitted
// while an earlier one is unfinished is `held`; when a turn ends the next held one is queued; a
// claimed turn resumes the session's provider id; a running turn records the id its CLI printed
// first, and a finished one the id it ended with.
//
// Two transactions on one session (a submit and the end of the running turn) each take the
// session's advisory lock before they look at its pending turns: without it each could miss the
// other's uncommitted change and leave a turn held for ever.
import type { Outcome } from '../../protocol/tasks.ts';
import type * as S from '../types.ts';
import type { Database, Tx } from './database.ts';
import { TASK_COLUMNS, type TaskRow } from './rows.ts';
import { logTask } from './event-log.ts';
import { FENCE } from './lease-shared.ts';

/** The states of an unfinished turn; the partial index tasks_session_turns names the same list. */
const PENDING = `state IN ('scheduled', 'held', 'queued', 'running')`;

const SQL = {
  pending: `SELECT id, state FROM tasks WHERE session_scope = $1 AND ${PENDING} ORDER BY row_seq`,
  release: `UPDATE tasks SET state = CASE WHEN run_at > $2 THEN 'scheduled' ELSE 'queued' END,
      updated_at = $2
    WHERE id = $1 AND state = 'held' AND lease_token IS NULL RETURNING ${TASK_COLUMNS}`,
  scopeOf: 'SELECT session_scope FROM tasks WHERE id = $1',
  runningScopeOf: `SELECT session_scope FROM tasks WHERE ${FENCE} FOR UPDATE`,
  submitted: `INSERT INTO sessions (agent, key, created_at, updated_at, task_count, last_task_id,
      callback_channel)
    VALUES ($1, $2, $3, $3, 1, $4, $5)
    ON CONFLICT (agent, key) DO UPDATE SET updated_at = excluded.updated_at,
      task_count = sessions.task_count + 1, last_task_id = excluded.last_task_id,
      callback_channel = COALESCE(excluded.callback_channel, sessions.callback_channel)`,
  reported: `INSERT INTO sessions (agent, key, provider_session_id, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $4)
    ON CONFLICT (agent, key) DO UPDATE SET provider_session_id = excluded.provider_session_id,
      updated_at = excluded.updated_at`,
  providerOf: 'SELECT provider_session_id AS id FROM sessions WHERE agent = $1 AND key = $2',
} as const;

/** `<agent>:<key>` for an agent turn with a session key; undefined for anything else. */
export function sessionScopeOf(
  kind: string,
  spec: Record<string, unknown>,
  sessionKey: string | undefined,
): string | undefined {
  if (kind !== 'agent' || sessionKey === undefined || typeof spec.agent !== 'string') return;
  return `${spec.agent}:${sessionKey}`;
}

export class SessionTurns {
  constructor(private readonly db: Database) {}

  /**
   * A running turn's provider id, recorded as soon as its runner reports it. The task row is
   * locked (FOR UPDATE) while the session is written, so the attempt cannot end in between: a
   * report arriving after the finish or the reaper finds no lease and cannot overwrite the id.
   */
  recordTurnSession(
    id: string,
    token: string,
    sessionId: string,
    now: number,
  ): Promise<boolean | undefined> {
    return this.db.transaction(async (tx) => {
      const row = await tx.row<{ session_scope: string | null }>(SQL.runningScopeOf, [id, token]);
      if (row === undefined) return undefined;
      if (row.session_scope === null) return false;
      await this.pointScope(tx, row.session_scope, sessionId, now);
      return true;
    });
  }

  /** Takes the session's lock: call before reading or changing which of its turns are pending. */
  lockScope(tx: Tx, scope: string): Promise<void> {
    return tx.lock(`session:${scope}`);
  }

  /** True when the scope has an unfinished turn, so a new one must wait (`held`). */
  async mustHold(tx: Tx, scope: string): Promise<boolean> {
    return (await tx.row(SQL.pending, [scope])) !== undefined;
  }

  /** Counts a submitted turn on its session, creating the session on its first turn. */
  async submitted(tx: Tx, task: S.NewTask, now: number): Promise<void> {
    const agent = task.spec.agent as string;
    const discord = task.callbacks?.find((c) => c.kind === 'discord')?.target;
    const channel = discord ?? task.metadata?.callbackChannel;
    await tx.run(SQL.submitted, [
      agent,
      task.sessionKey,
      now,
      task.id,
      typeof channel === 'string' ? channel : null,
    ]);
  }

  /**
   * The provider session a claimed turn continues: the session's current id unless the turn names
   * its own or asks for a fresh start.
   */
  async resumeFor(tx: Tx, task: S.StoredTask): Promise<string | undefined> {
    const { spec, sessionKey } = task;
    if (task.kind !== 'agent' || sessionKey === undefined) return;
    if (spec.resume !== undefined || spec.fresh === true) return;
    const row = await tx.row<{ id: string | null }>(SQL.providerOf, [spec.agent, sessionKey]);
    return row?.id ?? undefined;
  }

  /**
   * Call after any change that may have ended a turn (`row` is the task after it): records the
   * provider session id the attempt reported, then queues the next held turn if none is pending.
   */
  async ended(tx: Tx, row: TaskRow, now: number, outcome?: Outcome): Promise<void> {
    if (row.kind !== 'agent' || row.session_key === null) return;
    const scope = (await tx.row<{ session_scope: string | null }>(SQL.scopeOf, [row.id]))!
      .session_scope;
    if (scope === null) return;
    await this.lockScope(tx, scope);
    await this.recordProviderSession(tx, scope, outcome, now);
    if (['held', 'queued', 'scheduled', 'running'].includes(row.state)) return;
    await this.releaseNext(tx, scope, now);
  }

  private async recordProviderSession(
    tx: Tx,
    scope: string,
    outcome: Outcome | undefined,
    now: number,
  ): Promise<void> {
    // v1 runners report it in `output`; legacy runners only in `metadata`.
    const output = outcome?.output as { sessionId?: unknown } | undefined;
    const sessionId = output?.sessionId ?? outcome?.metadata?.sessionId;
    if (typeof sessionId !== 'string' || sessionId === '') return;
    await this.pointScope(tx, scope, sessionId, now);
  }

  /** Points the session of `scope` (`<agent>:<key>`; a key may hold colons) at a provider id. */
  private async pointScope(tx: Tx, scope: string, sessionId: string, now: number): Promise<void> {
    const split = scope.indexOf(':');
    await tx.run(SQL.reported, [scope.slice(0, split), scope.slice(split + 1), sessionId, now]);
  }

  private async releaseNext(tx: Tx, scope: string, now: number): Promise<void> {
    const next = await tx.row<{ id: string; state: string }>(SQL.pending, [scope]);
    if (next === undefined || next.state !== 'held') return;
    const row = await tx.row<TaskRow>(SQL.release, [next.id, now]);
    if (row !== undefined)
      logTask(tx, 'task.released', row, now, { reason: 'the previous turn ended' });
  }
}
