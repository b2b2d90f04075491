// Retention for the SQLite store: deletes finished tasks (with their attempts, output and
// callbacks) and old events in small batches. Only terminal tasks are ever candidates, so live
// work cannot be pruned, nor a task whose answer is still being posted.
import type Database from 'better-sqlite3';
import { TERMINAL_SQL } from '../terminal-sql.ts';
import type * as S from '../types.ts';
import { prepareStatements, type Prepared, type Transaction } from './statements.ts';
import type { EventLog } from './event-log.ts';

/** A task whose answer is still being posted stays until delivery ends (sent or failed). */
const NO_PENDING_CALLBACK = `NOT EXISTS (SELECT 1 FROM callbacks c INDEXED BY callbacks_task
  WHERE c.task_id = tasks.id AND c.state IN ('waiting', 'sending'))`;

const SQL = {
  // A legacy result nobody has read yet is not pruned by age: the old API promised to deliver it.
  // The count cap below still bounds the table.
  expired: `SELECT id FROM tasks WHERE state IN (${TERMINAL_SQL}) AND (
      (finished_at < @finishedBefore AND (origin <> 'legacy' OR result_read_at IS NOT NULL))
      OR result_read_at < @readBefore) AND ${NO_PENDING_CALLBACK}
    LIMIT @batch`,
  finishedCount: 'SELECT COUNT(*) AS n FROM tasks WHERE finished_at IS NOT NULL',
  oldestFinished: `SELECT id FROM tasks INDEXED BY tasks_finished
    WHERE finished_at IS NOT NULL AND state IN (${TERMINAL_SQL}) AND ${NO_PENDING_CALLBACK}
    ORDER BY finished_at LIMIT @n`,
  deleteTask: `DELETE FROM tasks WHERE id = ? AND state IN (${TERMINAL_SQL})`,
  deleteAttempts: 'DELETE FROM attempts WHERE task_id = ?',
  deleteOutput: 'DELETE FROM output_chunks WHERE task_id = ?',
  deleteCallbacks: 'DELETE FROM callbacks WHERE task_id = ?',
  oldEvents: `DELETE FROM events WHERE id IN (
      SELECT id FROM events WHERE at < @before ORDER BY id LIMIT @batch)`,
  eventCount: 'SELECT COUNT(*) AS n FROM events',
  excessEvents: `DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT @n)`,
  oldSessions: `DELETE FROM sessions WHERE rowid IN (
      SELECT rowid FROM sessions INDEXED BY sessions_updated WHERE updated_at < @before LIMIT @batch)`,
  oldReports: 'DELETE FROM agent_session_reports WHERE reported_at < @before',
  oldProviderIds: `DELETE FROM provider_sessions WHERE seen_at < @before AND NOT EXISTS (
      SELECT 1 FROM sessions s WHERE s.agent = provider_sessions.agent
        AND s.provider_session_id = provider_sessions.id)`,
} as const;

export class RetentionQueries {
  private readonly statements: Prepared<typeof SQL>;
  private readonly pruneTx: Transaction<[S.RetentionRules], S.PruneResult>;

  constructor(
    private readonly db: Database.Database,
    private readonly events: EventLog,
  ) {
    this.statements = prepareStatements(db, SQL);
    this.pruneTx = db.transaction((rules: S.RetentionRules) => this.pruneInTx(rules));
  }

  prune(rules: S.RetentionRules): S.PruneResult {
    return this.pruneTx.immediate(rules);
  }

  private pruneInTx(rules: S.RetentionRules): S.PruneResult {
    const batch = Math.max(1, Math.trunc(rules.batch));
    const tasks = this.pruneTasks(rules, batch);
    const events = this.pruneEvents(rules, batch);
    const sessions = this.pruneSessions(rules, batch);
    if (tasks > 0 || events > 0 || sessions > 0) {
      const data = { tasks, events, sessions };
      this.events.append({ type: 'retention.pruned', data }, rules.now);
    }
    return {
      tasks,
      events,
      sessions,
      more: tasks >= batch || events >= batch || sessions >= batch,
    };
  }

  private pruneTasks(rules: S.RetentionRules, batch: number): number {
    const { expired, finishedCount, oldestFinished } = this.statements;
    const ids = (expired.all({ ...rules, batch }) as { id: string }[]).map((r) => r.id);
    if (ids.length < batch) {
      const excess = (finishedCount.get() as { n: number }).n - ids.length - rules.maxFinished;
      const n = Math.min(batch - ids.length, Math.max(0, excess));
      if (n > 0) ids.push(...(oldestFinished.all({ n }) as { id: string }[]).map((r) => r.id));
    }
    let deleted = 0;
    for (const id of new Set(ids)) {
      if (this.statements.deleteTask.run(id).changes === 0) continue;
      this.statements.deleteAttempts.run(id);
      this.statements.deleteOutput.run(id);
      this.statements.deleteCallbacks.run(id);
      deleted += 1;
    }
    return deleted;
  }

  private pruneEvents(rules: S.RetentionRules, batch: number): number {
    const { oldEvents, eventCount, excessEvents } = this.statements;
    let deleted = oldEvents.run({ before: rules.eventsBefore, batch }).changes;
    if (deleted < batch) {
      const excess = (eventCount.get() as { n: number }).n - rules.maxEvents;
      const n = Math.min(batch - deleted, Math.max(0, excess));
      if (n > 0) deleted += excessEvents.run({ n }).changes;
    }
    return deleted;
  }

  /** A session's turns keep its updated_at fresh, so an old one has no turn pending. */
  private pruneSessions(rules: S.RetentionRules, batch: number): number {
    const before = rules.sessionsBefore;
    if (before === undefined) return 0;
    this.statements.oldReports.run({ before });
    this.statements.oldProviderIds.run({ before });
    return this.statements.oldSessions.run({ before, batch }).changes;
  }

  /** VACUUM cannot run inside a transaction; it rewrites the file, so it is for maintenance. */
  compact(): void {
    this.db.exec('VACUUM');
  }
}
