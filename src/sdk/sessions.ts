// Agent sessions through the v1 API: list, show, reset and resume conversations (session key →
// provider session id, per agent), the recent sessions runners report from their CLI storage, and
// a running turn's provider session id, which its runner reports as soon as the CLI prints it.
// OutpostClient extends SessionMethods, so these share its one request path (`send`).
import type { Static, TSchema } from 'typebox';
import {
  AgentOutput,
  RecentSessionList,
  ReportAgentSessionsReply,
  Session,
  SessionList,
  type AgentName,
  type ReportAgentSessionsBody,
  type ResumeSessionBody,
} from '../protocol/agents.ts';
import { TurnSessionReply, type TurnSessionBody } from '../protocol/runner.ts';
import type { Task } from '../protocol/tasks.ts';
import { parseWith } from '../protocol/validate.ts';
import type { HttpRequest } from './http.ts';

export interface ListSessionsFilter {
  agent?: AgentName;
  /** At most this many, most recently used first (server default 50, maximum 500). */
  limit?: number;
}

export interface RecentAgentSessionsOptions {
  /** Default `claude`. */
  agent?: AgentName;
  /** At most this many, newest first (maximum 100). */
  limit?: number;
}

/** The session methods of OutpostClient; see its class comment for how errors surface. */
export abstract class SessionMethods {
  /** One request, its reply validated against `schema` (OutpostClient's request path). */
  protected abstract send<S extends TSchema>(schema: S, req: HttpRequest): Promise<Static<S>>;

  /**
   * Lists sessions, most recently used first (`GET /v1/sessions`).
   * @example const { sessions } = await client.listSessions({ agent: 'claude', limit: 20 });
   */
  listSessions(filter: ListSessionsFilter = {}): Promise<SessionList> {
    return this.send(SessionList, { method: 'GET', path: '/v1/sessions', query: { ...filter } });
  }

  /**
   * A key's session for each agent, or for one with `agent`; `not_found` when the key has none.
   * @example const { sessions: [claude] } = await client.getSession('discord:1234', { agent: 'claude' });
   */
  getSession(key: string, opts: { agent?: AgentName } = {}): Promise<SessionList> {
    return this.send(SessionList, { method: 'GET', path: sessionPath(key), query: { ...opts } });
  }

  /**
   * Forgets a key's conversation (every agent's, or one's): its next turn starts fresh.
   * Resolves with the sessions as they are now; `not_found` when the key has none.
   * @example await client.resetSession('discord:1234', { agent: 'codex' });
   */
  resetSession(key: string, opts: { agent?: AgentName } = {}): Promise<SessionList> {
    const req = { method: 'POST', path: `${sessionPath(key)}/reset`, body: { ...opts } } as const;
    return this.send(SessionList, req);
  }

  /**
   * Points a key at a provider session, so its next turn continues it: a full id as given, or a
   * `prefix` of an id the server knows. An ambiguous prefix rejects with `conflict` and
   * `details.candidates`; a prefix matching nothing with `not_found`.
   * @example const session = await client.resumeSession('cli:me', { agent: 'claude', prefix: '3f2a9c' });
   */
  resumeSession(key: string, body: ResumeSessionBody): Promise<Session> {
    return this.send(Session, { method: 'POST', path: `${sessionPath(key)}/resume`, body });
  }

  /**
   * The sessions a runner last reported from its own CLI storage, newest first, each with its
   * first user message as `topic` (`sessions` is empty when it reported none).
   * @example const { sessions } = await client.recentAgentSessions('home', { agent: 'codex' });
   */
  recentAgentSessions(
    runner: string,
    opts: RecentAgentSessionsOptions = {},
  ): Promise<RecentSessionList> {
    const path = `/v1/runners/${encodeURIComponent(runner)}/agent-sessions`;
    return this.send(RecentSessionList, { method: 'GET', path, query: { ...opts } });
  }

  /**
   * A runner reports the sessions it found in its CLI's own storage, for "recent".
   * @example await client.reportAgentSessions({ runner: 'home', agent: 'claude', sessions });
   */
  reportAgentSessions(body: ReportAgentSessionsBody): Promise<ReportAgentSessionsReply> {
    const req = { method: 'POST', path: '/v1/runner/agent-sessions', body } as const;
    return this.send(ReportAgentSessionsReply, req);
  }

  /**
   * A runner reports the provider session id its running turn's CLI just printed, so the session
   * keeps the conversation even if the runner dies before the turn ends. `recorded` is false for a
   * task that is not an agent turn with a session key; rejects with `lease_lost` once the lease
   * is gone (the finish, if it came, recorded the id already).
   * @example await client.reportTurnSession({ taskId, leaseToken, providerSessionId: sessionId });
   */
  reportTurnSession(body: TurnSessionBody): Promise<TurnSessionReply> {
    const req = { method: 'POST', path: '/v1/runner/turn-session', body } as const;
    return this.send(TurnSessionReply, req);
  }
}

/**
 * What an agent turn reported (session id, model, turns, cost…), or undefined when the task is
 * not a finished agent turn or its runner sent something else: callers show the answer anyway.
 * @example const output = agentOutputOf(await client.waitForTask(id)); // output?.sessionId
 */
export function agentOutputOf(task: Task): AgentOutput | undefined {
  const output = task.outcome?.output;
  if (task.kind !== 'agent' || output === undefined) return undefined;
  try {
    return parseWith(AgentOutput, output, 'outcome.output');
  } catch {
    return undefined;
  }
}

function sessionPath(key: string): string {
  return `/v1/sessions/${encodeURIComponent(key)}`;
}
