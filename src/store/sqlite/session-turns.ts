// The turns of one agent session, inside the transactions that change tasks: a turn submitted
// while an earlier one is unfinished is `held`; when a turn ends the next held one is queued; a
// claimed turn resumes the session's provider id; a running turn records the id its CLI printed
// first, and a finished one the id it ended with.
import type Database from 'better-sqlite3';
import type { Outcome } from '../../protocol/tasks.ts';
import type * as S from '../types.ts';
import { prepareStatements, type Prepared, type Transaction } from './statements.ts';
import { AT, TASK_COLUMNS, type TaskValues } from './rows.ts';
import type { EventLog } from './event-log.ts';
import { FENCE } from './lease-shared.ts';
import { LIVE_STATES } from './state-indexes.ts';

/** The states of an unfinished turn: the partial index tasks_session_turns names the same term. */
const PENDING = LIVE_STATES;

const SQL = {
  pending: `SELECT id, state FROM tasks INDEXED BY tasks_session_turns
    WHERE session_scope = ? AND ${PENDING} ORDER BY rowid`,
  release: `UPDATE tasks SET state = CASE WHEN run_at > @now THEN 'scheduled' ELSE 'queued' END,
      updated_at = @now
    WHERE id = @id AND state = 'held' AND lease_token IS NULL RETURNING ${TASK_COLUMNS}`,
  scopeOf: 'SELECT session_scope FROM tasks WHERE id = ?',
  runningScopeOf: `SELECT session_scope FROM tasks WHERE ${FENCE}`,
  submitted: `INSERT INTO sessions (agent, key, created_at, updated_at, task_count, last_task_id,
      callback_channel)
    VALUES (@agent, @key, @now, @now, 1, @taskId, @channel)
    ON CONFLICT (agent, key) DO UPDATE SET updated_at = excluded.updated_at,
      task_count = task_count + 1, last_task_id = excluded.last_task_id,
      callback_channel = COALESCE(excluded.callback_channel, callback_channel)`,
  reported: `INSERT INTO sessions (agent, key, provider_session_id, created_at, updated_at)
    VALUES (@agent, @key, @sessionId, @now, @now)
    ON CONFLICT (agent, key) DO UPDATE SET provider_session_id = excluded.provider_session_id,
      updated_at = excluded.updated_at`,
  providerOf: 'SELECT provider_session_id AS id FROM sessions WHERE agent = ? AND key = ?',
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
  private readonly statements: Prepared<typeof SQL>;
  private readonly runningTx: Transaction<[string, string, string, number], boolean | undefined>;

  constructor(
    db: Database.Database,
    private readonly events: EventLog,
  ) {
    this.statements = prepareStatements(db, SQL);
    this.runningTx = db.transaction((id: string, token: string, sessionId: string, now: number) =>
      this.recordRunning(id, token, sessionId, now),
    );
  }

  /**
   * A running turn's provider id, recorded as soon as its runner reports it. The fence is read and
   * the session written under one write lock (IMMEDIATE, as a finish: a deferred read would get
   * SQLITE_BUSY upgrading to write), so the attempt cannot end in between: a report that arrives
   * after the finish or the reaper finds no lease and cannot overwrite the id the turn ended with.
   */
  recordTurnSession(
    id: string,
    token: string,
    sessionId: string,
    now: number,
  ): boolean | undefined {
    return this.runningTx.immediate(id, token, sessionId, now);
  }

  private recordRunning(
    id: string,
    token: string,
    sessionId: string,
    now: number,
  ): boolean | undefined {
    const row = this.statements.runningScopeOf.get({ id, token }) as
      { session_scope: string | null } | undefined;
    if (row === undefined) return undefined;
    if (row.session_scope === null) return false;
    this.pointScope(row.session_scope, sessionId, now);
    return true;
  }

  /** True when the scope has an unfinished turn, so a new one must wait (`held`). */
  mustHold(scope: string): boolean {
    return this.statements.pending.get(scope) !== undefined;
  }

  /** Counts a submitted turn on its session, creating the session on its first turn. */
  submitted(task: S.NewTask, now: number): void {
    const agent = task.spec.agent as string;
    const discord = task.callbacks?.find((c) => c.kind === 'discord')?.target;
    const channel = discord ?? task.metadata?.callbackChannel;
    this.statements.submitted.run({
      agent,
      key: task.sessionKey,
      now,
      taskId: task.id,
      channel: typeof channel === 'string' ? channel : null,
    });
  }

  /**
   * The provider session a claimed turn continues: the session's current id unless the turn names
   * its own or asks for a fresh start. Read in the claim's transaction, after the previous turn
   * of the session ended and recorded its id.
   */
  resumeFor(task: S.StoredTask): string | undefined {
    const { spec, sessionKey } = task;
    if (task.kind !== 'agent' || sessionKey === undefined) return;
    if (spec.resume !== undefined || spec.fresh === true) return;
    const row = this.statements.providerOf.get(spec.agent, sessionKey) as
      { id: string | null } | undefined;
    return row?.id ?? undefined;
  }

  /**
   * Call after any change that may have ended a turn (`values` is the row after it): records the
   * provider session id the attempt reported, then queues the next held turn if none is pending.
   */
  ended(values: TaskValues, now: number, outcome?: Outcome): void {
    const [id, kind, , state] = values;
    if (kind !== 'agent' || values[AT.sessionKey] === null) return;
    const scope = (this.statements.scopeOf.get(id) as { session_scope: string | null })
      .session_scope;
    if (scope === null) return;
    this.recordProviderSession(scope, outcome, now);
    if (state === 'held' || state === 'queued' || state === 'scheduled' || state === 'running')
      return;
    this.releaseNext(scope, now);
  }

  /**
   * The id a turn ended with. It may differ from the one recorded while it ran: a refused resume
   * falls back to a fresh session with an id of its own.
   */
  private recordProviderSession(scope: string, outcome: Outcome | undefined, now: number): void {
    // v1 runners report it in `output`; legacy runners only in `metadata`.
    const output = outcome?.output as { sessionId?: unknown } | undefined;
    const sessionId = output?.sessionId ?? outcome?.metadata?.sessionId;
    if (typeof sessionId !== 'string' || sessionId === '') return;
    this.pointScope(scope, sessionId, now);
  }

  /** Points the session of `scope` (`<agent>:<key>`; a key may hold colons) at a provider id. */
  private pointScope(scope: string, sessionId: string, now: number): void {
    const split = scope.indexOf(':');
    const agent = scope.slice(0, split);
    this.statements.reported.run({ agent, key: scope.slice(split + 1), sessionId, now });
  }

  private releaseNext(scope: string, now: number): void {
    const pending = this.statements.pending.all(scope) as { id: string; state: string }[];
    const next = pending[0];
    if (next === undefined || next.state !== 'held') return;
    const values = this.statements.release.get({ id: next.id, now }) as TaskValues | undefined;
    if (values !== undefined)
      this.events.logTask('task.released', values, now, { reason: 'the previous turn ended' });
  }
}
