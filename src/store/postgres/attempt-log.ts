// Attempt history of the PostgreSQL store: one row per attempt (runner, start, end, outcome),
// written by the lease queries in the same transaction as the lease change it records.
import type { Attempt } from '../../protocol/tasks.ts';
import type { Queryable } from './database.ts';

const SQL = {
  start: `INSERT INTO attempts (task_id, attempt, runner, instance_id, started_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (task_id, attempt) DO UPDATE SET runner = excluded.runner,
      instance_id = excluded.instance_id, started_at = excluded.started_at, ended_at = NULL,
      status = NULL, reason = NULL`,
  end: `UPDATE attempts SET ended_at = $5, status = $3, reason = $4
    WHERE task_id = $1 AND attempt = $2 AND ended_at IS NULL`,
  remove: 'DELETE FROM attempts WHERE task_id = $1 AND attempt = $2',
  list: `SELECT attempt, runner, instance_id, started_at, ended_at, status, reason FROM attempts
    WHERE task_id = $1 ORDER BY attempt`,
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
  constructor(private readonly db: Queryable) {}

  async start(
    tx: Queryable,
    taskId: string,
    attempt: number,
    runner: string,
    instanceId: string | undefined,
    now: number,
  ): Promise<void> {
    await tx.run(SQL.start, [taskId, attempt, runner, instanceId ?? null, now]);
  }

  async end(
    tx: Queryable,
    taskId: string,
    attempt: number,
    status: string,
    reason: string | undefined,
    now: number,
  ): Promise<void> {
    const short = reason === undefined ? null : reason.slice(0, REASON_MAX);
    await tx.run(SQL.end, [taskId, attempt, status, short, now]);
  }

  /** Forgets an attempt that never reached its runner (the claim was not delivered). */
  async remove(tx: Queryable, taskId: string, attempt: number): Promise<void> {
    await tx.run(SQL.remove, [taskId, attempt]);
  }

  async list(taskId: string): Promise<Attempt[]> {
    const rows = await this.db.rows<AttemptRow>(SQL.list, [taskId]);
    return rows.map((row) => {
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
