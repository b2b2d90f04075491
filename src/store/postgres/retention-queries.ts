// Retention for the PostgreSQL store: deletes finished tasks (with their attempts, output and
// callbacks) and old events in small batches. Only terminal tasks are ever candidates, so live
// work cannot be pruned, nor a task whose answer is still being posted.
import { TERMINAL_SQL } from '../terminal-sql.ts';
import type * as S from '../types.ts';
import type { Database, Tx } from './database.ts';
import type { EventLog } from './event-log.ts';

/** A task whose answer is still being posted stays until delivery ends (sent or failed). */
const NO_PENDING_CALLBACK = `NOT EXISTS (SELECT 1 FROM callbacks c
  WHERE c.task_id = tasks.id AND c.state IN ('waiting', 'sending'))`;

const SQL = {
  // A legacy result nobody has read yet is not pruned by age: the old API promised to deliver it.
  // The count cap below still bounds the table.
  expired: `SELECT id FROM tasks WHERE state IN (${TERMINAL_SQL}) AND (
      (finished_at < $1 AND (origin <> 'legacy' OR result_read_at IS NOT NULL))
      OR result_read_at < $2) AND ${NO_PENDING_CALLBACK}
    LIMIT $3`,
  finishedCount: 'SELECT COUNT(*) AS n FROM tasks WHERE finished_at IS NOT NULL',
  oldestFinished: `SELECT id FROM tasks
    WHERE finished_at IS NOT NULL AND state IN (${TERMINAL_SQL}) AND ${NO_PENDING_CALLBACK}
    ORDER BY finished_at LIMIT $1`,
  deleteTasks: `DELETE FROM tasks WHERE id = ANY($1::text[]) AND state IN (${TERMINAL_SQL})
    RETURNING id`,
  deleteAttempts: 'DELETE FROM attempts WHERE task_id = ANY($1::text[])',
  deleteOutput: 'DELETE FROM output_chunks WHERE task_id = ANY($1::text[])',
  deleteCallbacks: 'DELETE FROM callbacks WHERE task_id = ANY($1::text[])',
  oldEvents: `DELETE FROM events WHERE id IN (
      SELECT id FROM events WHERE at < $1 ORDER BY id LIMIT $2)`,
  eventCount: 'SELECT COUNT(*) AS n FROM events',
  excessEvents: 'DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT $1)',
  oldSessions: `DELETE FROM sessions WHERE (agent, key) IN (
      SELECT agent, key FROM sessions WHERE updated_at < $1 LIMIT $2)`,
  oldReports: 'DELETE FROM agent_session_reports WHERE reported_at < $1',
  oldProviderIds: `DELETE FROM provider_sessions WHERE seen_at < $1 AND NOT EXISTS (
      SELECT 1 FROM sessions s WHERE s.agent = provider_sessions.agent
        AND s.provider_session_id = provider_sessions.id)`,
} as const;

const NOTHING: S.PruneResult = { tasks: 0, events: 0, sessions: 0, more: false };

export class RetentionQueries {
  constructor(
    private readonly db: Database,
    private readonly events: EventLog,
  ) {}

  /**
   * One batch, under an advisory lock: with several server replicas on one database, the one that
   * gets the lock prunes and the others skip this round (they would only delete the same rows).
   */
  prune(rules: S.RetentionRules): Promise<S.PruneResult> {
    return this.db.transaction(async (tx) => {
      if (!(await tx.tryLock('retention'))) return NOTHING;
      return this.pruneInTx(tx, rules);
    });
  }

  private async pruneInTx(tx: Tx, rules: S.RetentionRules): Promise<S.PruneResult> {
    const batch = Math.max(1, Math.trunc(rules.batch));
    const tasks = await this.pruneTasks(tx, rules, batch);
    const events = await this.pruneEvents(tx, rules, batch);
    const sessions = await this.pruneSessions(tx, rules, batch);
    if (tasks > 0 || events > 0 || sessions > 0) {
      const data = { tasks, events, sessions };
      await this.events.append(tx, { type: 'retention.pruned', data }, rules.now);
    }
    return {
      tasks,
      events,
      sessions,
      more: tasks >= batch || events >= batch || sessions >= batch,
    };
  }

  private async pruneTasks(tx: Tx, rules: S.RetentionRules, batch: number): Promise<number> {
    const params = [rules.finishedBefore, rules.readBefore, batch];
    const ids = (await tx.rows<{ id: string }>(SQL.expired, params)).map((r) => r.id);
    if (ids.length < batch) {
      const { n } = (await tx.row<{ n: number }>(SQL.finishedCount))!;
      const take = Math.min(batch - ids.length, Math.max(0, n - ids.length - rules.maxFinished));
      if (take > 0) {
        const oldest = await tx.rows<{ id: string }>(SQL.oldestFinished, [take]);
        ids.push(...oldest.map((r) => r.id));
      }
    }
    if (ids.length === 0) return 0;
    const deleted = (await tx.rows<{ id: string }>(SQL.deleteTasks, [[...new Set(ids)]])).map(
      (r) => r.id,
    );
    if (deleted.length === 0) return 0;
    await tx.run(SQL.deleteAttempts, [deleted]);
    await tx.run(SQL.deleteOutput, [deleted]);
    await tx.run(SQL.deleteCallbacks, [deleted]);
    return deleted.length;
  }

  private async pruneEvents(tx: Tx, rules: S.RetentionRules, batch: number): Promise<number> {
    let deleted = await tx.run(SQL.oldEvents, [rules.eventsBefore, batch]);
    if (deleted < batch) {
      const { n } = (await tx.row<{ n: number }>(SQL.eventCount))!;
      const take = Math.min(batch - deleted, Math.max(0, n - rules.maxEvents));
      if (take > 0) deleted += await tx.run(SQL.excessEvents, [take]);
    }
    return deleted;
  }

  /** A session's turns keep its updated_at fresh, so an old one has no turn pending. */
  private async pruneSessions(tx: Tx, rules: S.RetentionRules, batch: number): Promise<number> {
    const before = rules.sessionsBefore;
    if (before === undefined) return 0;
    await tx.run(SQL.oldReports, [before]);
    await tx.run(SQL.oldProviderIds, [before]);
    return tx.run(SQL.oldSessions, [before, batch]);
  }

  /**
   * VACUUM gives dead rows' space back for reuse (not to the file system, which VACUUM FULL would,
   * under an exclusive lock); it cannot run inside a transaction. Autovacuum does the same on its
   * own, so this is only for maintenance.
   */
  async compact(): Promise<void> {
    const tables = ['tasks', 'events', 'output_chunks', 'attempts', 'callbacks', 'sessions'];
    for (const table of tables) await this.db.run(`VACUUM ${table}`);
  }
}
