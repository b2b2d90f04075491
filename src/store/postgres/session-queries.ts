// Sessions outside of turns: list, reset, point a key at a provider session, find ids by prefix,
// count, and the recent sessions runners report from their own CLI storage.
import type { AgentName, RecentSession, Session } from '../../protocol/agents.ts';
import type * as S from '../types.ts';
import type { Queryable } from './database.ts';

const SESSION_COLUMNS = `agent, key, provider_session_id, created_at, updated_at, task_count,
  last_task_id, callback_channel`;

const SQL = {
  reset: `UPDATE sessions SET provider_session_id = NULL, updated_at = $3
    WHERE key = $1 AND ($2::text IS NULL OR agent = $2) RETURNING ${SESSION_COLUMNS}`,
  point: `INSERT INTO sessions (agent, key, provider_session_id, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $4)
    ON CONFLICT (agent, key) DO UPDATE SET provider_session_id = excluded.provider_session_id,
      updated_at = excluded.updated_at
    RETURNING ${SESSION_COLUMNS}`,
  // starts_with, not LIKE (which treats _ as a wildcard); the id column sorts in byte order.
  byPrefix: `SELECT id FROM provider_sessions WHERE agent = $1 AND starts_with(id, $2)
    ORDER BY id LIMIT $3`,
  stats: `SELECT agent, COUNT(*) AS n, COUNT(*) FILTER (WHERE updated_at >= $1) AS active
    FROM sessions GROUP BY agent ORDER BY agent`,
  saveReport: `INSERT INTO agent_session_reports (runner, agent, sessions, reported_at)
    VALUES ($1, $2, $3::jsonb, $4)
    ON CONFLICT (runner, agent) DO UPDATE SET sessions = excluded.sessions,
      reported_at = excluded.reported_at`,
  reports: `SELECT runner, agent, sessions, reported_at FROM agent_session_reports
    WHERE agent = $1 AND ($2::text IS NULL OR runner = $2) ORDER BY reported_at DESC`,
} as const;

interface SessionRow {
  agent: string;
  key: string;
  provider_session_id: string | null;
  created_at: number;
  updated_at: number;
  task_count: number;
  last_task_id: string | null;
  callback_channel: string | null;
}

interface ReportRow {
  runner: string;
  agent: string;
  sessions: RecentSession[];
  reported_at: number;
}

export class SessionQueries {
  constructor(private readonly db: Queryable) {}

  async listSessions(filter: S.SessionFilter): Promise<Session[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.agent !== undefined) {
      params.push(filter.agent);
      where.push(`agent = $${params.length}`);
    }
    if (filter.key !== undefined) {
      params.push(filter.key);
      where.push(`key = $${params.length}`);
    }
    params.push(filter.limit);
    const sql = `SELECT ${SESSION_COLUMNS} FROM sessions
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY updated_at DESC, agent, key LIMIT $${params.length}`;
    return (await this.db.rows<SessionRow>(sql, params)).map(sessionFromRow);
  }

  async resetSession(key: string, agent: AgentName | undefined, now: number): Promise<Session[]> {
    const rows = await this.db.rows<SessionRow>(SQL.reset, [key, agent ?? null, now]);
    return rows.map(sessionFromRow);
  }

  async setProviderSession(agent: AgentName, key: string, id: string, now: number) {
    return sessionFromRow((await this.db.row<SessionRow>(SQL.point, [agent, key, id, now]))!);
  }

  /** Ids any session has pointed at and those of every runner's last report, deduplicated, sorted. */
  async findProviderSessions(agent: AgentName, prefix: string, limit: number): Promise<string[]> {
    const rows = await this.db.rows<{ id: string }>(SQL.byPrefix, [agent, prefix, limit]);
    const ids = new Set(rows.map((r) => r.id));
    for (const report of await this.listAgentSessionReports(agent)) {
      for (const s of report.sessions) if (s.sessionId.startsWith(prefix)) ids.add(s.sessionId);
    }
    return [...ids].sort().slice(0, limit);
  }

  async sessionStats(activeSince: number): Promise<S.SessionStats> {
    const rows = await this.db.rows<{ agent: AgentName; n: number; active: number }>(SQL.stats, [
      activeSince,
    ]);
    return {
      total: rows.reduce((sum, r) => sum + r.n, 0),
      active: rows.reduce((sum, r) => sum + r.active, 0),
      byAgent: rows.map((r) => ({ agent: r.agent, count: r.n })),
    };
  }

  async saveAgentSessionReport(report: S.AgentSessionReport): Promise<void> {
    const { runner, agent, reportedAt } = report;
    await this.db.run(SQL.saveReport, [runner, agent, JSON.stringify(report.sessions), reportedAt]);
  }

  async listAgentSessionReports(agent: AgentName, runner?: string) {
    const rows = await this.db.rows<ReportRow>(SQL.reports, [agent, runner ?? null]);
    return rows.map((r): S.AgentSessionReport => ({
      runner: r.runner,
      agent: r.agent as AgentName,
      reportedAt: r.reported_at,
      sessions: r.sessions,
    }));
  }
}

function sessionFromRow(row: SessionRow): Session {
  const session: Session = {
    agent: row.agent as AgentName,
    key: row.key,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    taskCount: row.task_count,
  };
  if (row.provider_session_id !== null) session.providerSessionId = row.provider_session_id;
  if (row.last_task_id !== null) session.lastTaskId = row.last_task_id;
  if (row.callback_channel !== null) session.callbackChannel = row.callback_channel;
  return session;
}
