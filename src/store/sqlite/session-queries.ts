// Sessions outside of turns: list, reset, point a key at a provider session, find ids by prefix,
// count, and the recent sessions runners report from their own CLI storage.
import type Database from 'better-sqlite3';
import type { AgentName, RecentSession, Session } from '../../protocol/agents.ts';
import type * as S from '../types.ts';
import { prepareStatements, StatementCache, type Prepared } from './statements.ts';

const SESSION_COLUMNS = `agent, key, provider_session_id, created_at, updated_at, task_count,
  last_task_id, callback_channel`;

const SQL = {
  reset: `UPDATE sessions SET provider_session_id = NULL, updated_at = @now
    WHERE key = @key AND (@agent IS NULL OR agent = @agent) RETURNING ${SESSION_COLUMNS}`,
  point: `INSERT INTO sessions (agent, key, provider_session_id, created_at, updated_at)
    VALUES (@agent, @key, @id, @now, @now)
    ON CONFLICT (agent, key) DO UPDATE SET provider_session_id = excluded.provider_session_id,
      updated_at = excluded.updated_at
    RETURNING ${SESSION_COLUMNS}`,
  // `>=` and `<` on the prefix use the index where LIKE would not (and LIKE treats _ as a wildcard).
  byPrefix: `SELECT id FROM provider_sessions
    WHERE agent = @agent AND id >= @prefix AND id < @upper ORDER BY id LIMIT @limit`,
  stats: `SELECT agent, COUNT(*) AS n, SUM(updated_at >= ?) AS active FROM sessions
    GROUP BY agent ORDER BY agent`,
  saveReport: `INSERT INTO agent_session_reports (runner, agent, sessions, reported_at)
    VALUES (@runner, @agent, @sessions, @reportedAt)
    ON CONFLICT (runner, agent) DO UPDATE SET sessions = excluded.sessions,
      reported_at = excluded.reported_at`,
  reports: `SELECT runner, agent, sessions, reported_at FROM agent_session_reports
    WHERE agent = @agent AND (@runner IS NULL OR runner = @runner) ORDER BY reported_at DESC`,
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
  sessions: string;
  reported_at: number;
}

export class SessionQueries {
  private readonly statements: Prepared<typeof SQL>;
  private readonly listVariants: StatementCache;

  constructor(db: Database.Database) {
    this.statements = prepareStatements(db, SQL);
    this.listVariants = new StatementCache(db);
  }

  listSessions(filter: S.SessionFilter): Session[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.agent !== undefined) {
      where.push('agent = ?');
      params.push(filter.agent);
    }
    if (filter.key !== undefined) {
      where.push('key = ?');
      params.push(filter.key);
    }
    const sql = `SELECT ${SESSION_COLUMNS} FROM sessions
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY updated_at DESC, agent, key LIMIT ?`;
    const rows = this.listVariants.get(sql).all(...params, filter.limit) as SessionRow[];
    return rows.map(sessionFromRow);
  }

  resetSession(key: string, agent: AgentName | undefined, now: number): Session[] {
    const rows = this.statements.reset.all({ key, agent: agent ?? null, now }) as SessionRow[];
    return rows.map(sessionFromRow);
  }

  setProviderSession(agent: AgentName, key: string, id: string, now: number): Session {
    return sessionFromRow(this.statements.point.get({ agent, key, id, now }) as SessionRow);
  }

  /** Ids any session has pointed at and those of every runner's last report, deduplicated, sorted. */
  findProviderSessions(agent: AgentName, prefix: string, limit: number): string[] {
    const upper = prefix + '\u{10FFFF}';
    const rows = this.statements.byPrefix.all({ agent, prefix, upper, limit }) as { id: string }[];
    const ids = new Set(rows.map((r) => r.id));
    for (const report of this.listAgentSessionReports(agent)) {
      for (const s of report.sessions) if (s.sessionId.startsWith(prefix)) ids.add(s.sessionId);
    }
    return [...ids].sort().slice(0, limit);
  }

  sessionStats(activeSince: number): S.SessionStats {
    const rows = this.statements.stats.all(activeSince) as {
      agent: AgentName;
      n: number;
      active: number | null;
    }[];
    return {
      total: rows.reduce((sum, r) => sum + r.n, 0),
      active: rows.reduce((sum, r) => sum + (r.active ?? 0), 0),
      byAgent: rows.map((r) => ({ agent: r.agent, count: r.n })),
    };
  }

  saveAgentSessionReport(report: S.AgentSessionReport): void {
    const { runner, agent, reportedAt } = report;
    const sessions = JSON.stringify(report.sessions);
    this.statements.saveReport.run({ runner, agent, sessions, reportedAt });
  }

  listAgentSessionReports(agent: AgentName, runner?: string): S.AgentSessionReport[] {
    const rows = this.statements.reports.all({ agent, runner: runner ?? null }) as ReportRow[];
    return rows.map((r) => ({
      runner: r.runner,
      agent: r.agent as AgentName,
      reportedAt: r.reported_at,
      sessions: JSON.parse(r.sessions) as RecentSession[],
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
