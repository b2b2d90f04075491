// Attempt history of the SQLite store: one row per ended attempt (runner, start, end, outcome),
// written by the lease queries in the same transaction as the change that ended it. The running
// attempt has no row: its runner, instance and start are on the task row, and list() reads it
// there. Writing the row once, at the end, takes an insert off the claim, which is on the way from
// submit to pickup; the end's insert costs about what its update did.
import type Database from 'better-sqlite3';
import type { Attempt } from '../../protocol/tasks.ts';
import { prepareStatements, type Prepared } from './statements.ts';

const SQL = {
  // Run after the change that ended the lease: that keeps runner, started_at and lease_instance.
  // OR REPLACE: an attempt that started before rows waited for the end has its start row already.
  end: `INSERT OR REPLACE INTO attempts
      (task_id, attempt, runner, instance_id, started_at, ended_at, status, reason)
    SELECT id, @attempt, runner, lease_instance, started_at, @now, @status, @reason
    FROM tasks WHERE id = @taskId`,
  // A start row left by an earlier version, for an attempt that never reached its runner.
  remove: 'DELETE FROM attempts WHERE task_id = ? AND attempt = ?',
  list: `SELECT attempt, runner, instance_id, started_at, ended_at, status, reason FROM attempts
      WHERE task_id = @id
    UNION ALL
    SELECT attempt, runner, lease_instance, started_at, NULL, NULL, NULL FROM tasks
      WHERE id = @id AND state IN ('running', 'held') AND lease_token IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM attempts AS a WHERE a.task_id = @id AND a.attempt = tasks.attempt)
    ORDER BY attempt`,
} as const;

interface AttemptRow {
  attempt: number;
  runner: string;
  instance_id: string | null;
  started_at: number;
  ended_at: number | null;
  status: string | null;
  reason: string | null;
}

/** Longest reason kept per attempt: the full error stays in the task's outcome. */
const REASON_MAX = 500;

export class AttemptLog {
  private readonly statements: Prepared<typeof SQL>;

  constructor(db: Database.Database) {
    this.statements = prepareStatements(db, SQL);
  }

  end(taskId: string, attempt: number, status: string, reason: string | undefined, now: number) {
    const short = reason === undefined ? null : reason.slice(0, REASON_MAX);
    this.statements.end.run({ taskId, attempt, status, reason: short, now });
  }

  /** Forgets an attempt that never reached its runner (the claim was not delivered). */
  remove(taskId: string, attempt: number): void {
    this.statements.remove.run(taskId, attempt);
  }

  list(taskId: string): Attempt[] {
    return (this.statements.list.all({ id: taskId }) as AttemptRow[]).map((row) => {
      const attempt: Attempt = {
        attempt: row.attempt,
        runner: row.runner,
        startedAt: row.started_at,
      };
      if (row.instance_id !== null) attempt.instanceId = row.instance_id;
      if (row.ended_at !== null) attempt.endedAt = row.ended_at;
      if (row.status !== null) attempt.status = row.status;
      if (row.reason !== null) attempt.reason = row.reason;
      return attempt;
    });
  }
}
