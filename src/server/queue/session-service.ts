// Agent sessions as clients see them: list, show, reset, resume by id or unique prefix, stats,
// and the recent sessions runners report from their own CLI storage. Turn ordering itself lives
// in the store, in the same transactions that change tasks.
import { AppError } from '../../protocol/errors.ts';
import type {
  AgentName,
  RecentSessionList,
  ReportAgentSessionsBody,
  ResumeSessionBody,
  Session,
} from '../../protocol/agents.ts';
import type { TurnSessionBody } from '../../protocol/runner.ts';
import type { Clock } from '../../lib/clock.ts';
import type { SessionFilter, SessionStats, Store } from '../../store/types.ts';

/** How many candidates an ambiguous prefix lists. */
const MAX_CANDIDATES = 10;

export class SessionService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  list(filter: SessionFilter): Promise<Session[]> {
    return this.store.listSessions(filter);
  }

  /** Every agent's session under one key; `not_found` when the key has none. */
  async show(key: string, agent?: AgentName): Promise<Session[]> {
    const sessions = await this.store.listSessions({ key, agent, limit: 10 });
    if (sessions.length === 0) throw new AppError('not_found', `No session with key '${key}'`);
    return sessions;
  }

  /** The next turn of the key starts a fresh conversation. */
  async reset(key: string, agent?: AgentName): Promise<Session[]> {
    const sessions = await this.store.resetSession(key, agent, this.clock.now());
    if (sessions.length === 0) throw new AppError('not_found', `No session with key '${key}'`);
    await this.store.appendEvent({ type: 'session.reset', data: { key, agent } }, this.clock.now());
    return sessions;
  }

  /** Points the key at a provider session, named in full or by a prefix that matches just one. */
  async resume(key: string, body: ResumeSessionBody): Promise<Session> {
    const { agent, providerSessionId, prefix } = body;
    if ((providerSessionId === undefined) === (prefix === undefined)) {
      throw new AppError('bad_request', 'give exactly one of providerSessionId and prefix');
    }
    const id = providerSessionId ?? (await this.resolvePrefix(agent, prefix!));
    const now = this.clock.now();
    const session = await this.store.setProviderSession(agent, key, id, now);
    const data = { key, agent, providerSessionId: id };
    await this.store.appendEvent({ type: 'session.resumed', data }, now);
    return session;
  }

  /** The one known provider session id of the agent starting with `prefix`. */
  async resolvePrefix(agent: AgentName, prefix: string): Promise<string> {
    const found = await this.store.findProviderSessions(agent, prefix, MAX_CANDIDATES + 1);
    if (found.length === 1) return found[0]!;
    if (found.length === 0) {
      throw new AppError('not_found', `No ${agent} session id starts with '${prefix}'`);
    }
    const shown = found.slice(0, MAX_CANDIDATES);
    const more = found.length > MAX_CANDIDATES ? ', …' : '';
    throw new AppError(
      'conflict',
      `'${prefix}' matches several ${agent} sessions: ${shown.join(', ')}${more}; give more of the id`,
      { candidates: shown },
    );
  }

  stats(activeWithinMs: number): Promise<SessionStats> {
    return this.store.sessionStats(this.clock.now() - activeWithinMs);
  }

  async report(body: ReportAgentSessionsBody): Promise<number> {
    const { runner, agent, sessions } = body;
    const reportedAt = this.clock.now();
    await this.store.saveAgentSessionReport({ runner, agent, sessions, reportedAt });
    return sessions.length;
  }

  /** Records the provider id a running turn's CLI printed; `lease_lost` once its lease is gone. */
  async recordTurnSession(body: TurnSessionBody): Promise<boolean> {
    const { taskId, leaseToken, providerSessionId } = body;
    const now = this.clock.now();
    const recorded = await this.store.recordTurnSession(taskId, leaseToken, providerSessionId, now);
    if (recorded === undefined)
      throw new AppError('lease_lost', `The lease on task ${taskId} is no longer held`);
    return recorded;
  }

  /**
   * What runners last reported for the agent, newest first, merged across runners when none is
   * named (each session once, from the newest report that has it).
   */
  async recent(agent: AgentName, runner?: string, limit = 20): Promise<RecentSessionList[]> {
    const reports = await this.store.listAgentSessionReports(agent, runner);
    if (runner !== undefined && reports.length === 0) {
      return [{ runner, agent, sessions: [] }];
    }
    return reports.map((r) => ({ ...r, sessions: r.sessions.slice(0, limit) }));
  }
}
