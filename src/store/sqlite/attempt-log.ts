// Attempt history of the SQLite store: one row per attempt (runner, start, end, outcome), written
// by the lease queries in the same transaction as the lease change it records.
import type Database from 'better-sqlite3';
import type { Attempt } from '../../protocol/tasks.ts';
import { prepareStatements, type Prepared } from './statements.ts';

const SQL = {
  start: `INSERT OR REPLACE INTO attempts (task_id, attempt, runner, instance_id, started_at)
    VALUES (@taskId, @attempt, @runner, @instanceId, @now)`,
  end: `UPDATE attempts SET ended_at = @now, status = @status, reason = @reason
    WHERE task_id = @taskId AND attempt = @attempt AND ended_at IS NULL`,
  remove: 'DELETE FROM attempts WHERE task_id = ? AND attempt = ?',
  list: `SELECT attempt, runner, instance_id, started_at, ended_at, status, reason FROM attempts
    WHERE task_id = ? ORDER BY attempt`,
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

  start(
    taskId: string,
    attempt: number,
    runner: string,
    instanceId: string | undefined,
    now: number,
  ) {
    this.statements.start.run({ taskId, attempt, runner, instanceId: instanceId ?? null, now });
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
    return (this.statements.list.all(taskId) as AttemptRow[]).map((row) => {
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
