// Legacy agent routes of the OpenClaw worker API: `POST /claude`, `/codex`, `/gemini` and the
// session listings, mapped onto agent tasks with a session key. The legacy `sessionId` is the
// session key: a new UUID when none is given (Claude then starts its session under that very id),
// and an id the server has never seen is taken as the provider session to continue.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Value } from 'typebox/value';
import { AppError } from '../../protocol/errors.ts';
import { ProviderSessionId, type AgentName, type RecentSession } from '../../protocol/agents.ts';
import type { CreateTaskBody } from '../../protocol/tasks.ts';
import { clampNumber } from '../../lib/clock.ts';
import type { TaskService } from '../queue/task-service.ts';
import type { SessionService } from '../queue/session-service.ts';
import { isRecord } from './legacy-shapes.ts';

const config = { access: 'client', legacy: true } as const;
const schema = { hide: true } as const;

const ROUTES: readonly { agent: AgentName; timeoutMs: number; message: string }[] = [
  { agent: 'claude', timeoutMs: 120_000, message: 'Claude CLI task created' },
  { agent: 'codex', timeoutMs: 300_000, message: 'Codex CLI task created' },
  { agent: 'gemini', timeoutMs: 300_000, message: 'Gemini CLI task created' },
];

/** The dispatch fields old bots send and read back in a result's metadata. */
const DISPATCH_FIELDS = ['origin', 'dispatchMode', 'responseMode', 'entrypoint'] as const;

/** Sessions count as active in `/sessions/stats` while used within this window. */
const ACTIVE_WITHIN_MS = 24 * 60 * 60 * 1000;

const text = (v: unknown): string | undefined =>
  typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;

export function registerLegacyAgentRoutes(
  app: FastifyInstance,
  tasks: TaskService,
  sessions: SessionService,
): void {
  for (const route of ROUTES) {
    app.post(`/${route.agent}`, { config, schema }, async (request) => {
      const body = isRecord(request.body) ? request.body : {};
      const { task, sessionId } = await createTurn(tasks, sessions, route, body);
      return { taskId: task.id, sessionId, message: route.message };
    });
  }

  app.get('/claude/sessions', { config, schema }, async () => {
    const list = await sessions.list({ agent: 'claude', limit: 500 });
    return {
      sessions: list.map((s) => ({
        sessionId: s.key,
        lastActivity: s.updatedAt,
        taskCount: s.taskCount,
        callbackChannel: s.callbackChannel ?? null,
      })),
    };
  });

  for (const agent of ['claude', 'codex'] as const) {
    app.get(`/${agent}/recent`, { config, schema }, async (request: FastifyRequest) => {
      const query = request.query as { limit?: string };
      const limit = clampNumber(query.limit, 10, 1, 20);
      const recent = mergeRecent(await sessions.recent(agent), limit);
      return { sessions: recent.map((s) => legacyRecent(agent, s)) };
    });
  }

  app.get('/sessions/stats', { config, schema }, async () => {
    const stats = await sessions.stats(ACTIVE_WITHIN_MS);
    const byType = stats.byAgent.map((a) => ({ cliType: a.agent, count: a.count }));
    return { sessions: { active: stats.active, total: stats.total, byType } };
  });

  app.get('/sessions/state', { config, schema }, async (request: FastifyRequest) => {
    const query = request.query as { limit?: string; cliType?: string };
    const limit = clampNumber(query.limit, 50, 1, 500);
    const agent = ROUTES.find((r) => r.agent === query.cliType)?.agent;
    const list = await sessions.list({ agent, limit });
    return {
      sessions: list.map((s) => ({
        sessionId: s.key,
        cliType: s.agent,
        callbackChannel: s.callbackChannel ?? null,
        taskCount: s.taskCount,
        lastActivity: s.updatedAt,
        createdAt: s.createdAt,
      })),
    };
  });
}

async function createTurn(
  tasks: TaskService,
  sessions: SessionService,
  route: (typeof ROUTES)[number],
  body: Record<string, unknown>,
) {
  const prompt = text(body.prompt);
  if (prompt === undefined) throw new AppError('bad_request', 'prompt is required');
  const { agent } = route;
  const given = text(body.sessionId);
  // It becomes an argv element after --resume: refuse anything that could read as a flag.
  if (given !== undefined && !Value.Check(ProviderSessionId, given)) {
    throw new AppError('bad_request', 'sessionId must be letters, digits and . _ : -');
  }
  const sessionId = given ?? randomUUID();
  if (given !== undefined) await adoptUnknownSession(sessions, agent, given);
  const model = text(body.model);
  const channel = text(body.callbackChannel);
  const botToken = text(body.callbackBotToken);
  const spec = {
    agent,
    prompt,
    ...(model !== undefined ? { model } : {}),
    ...(given === undefined && agent === 'claude' ? { newSessionId: sessionId } : {}),
  };
  const create: CreateTaskBody = {
    kind: 'agent',
    spec,
    timeoutMs: clampNumber(body.timeout, route.timeoutMs, 1_000, 86_400_000),
    sessionKey: sessionId,
    ...(channel !== undefined
      ? { callback: { discord: { channel, ...(botToken ? { botToken } : {}) } } }
      : {}),
  };
  const metadata: Record<string, unknown> = { sessionId };
  if (channel !== undefined) metadata.callbackChannel = channel;
  for (const field of DISPATCH_FIELDS) {
    const value = text(body[field]);
    if (value !== undefined) metadata[field] = value;
  }
  const { task } = await tasks.createTask(create, { origin: 'legacy', metadata });
  return { task, sessionId };
}

/**
 * Old bots pass back the provider session id a result carried: a key the server has no session
 * for is taken as that provider id, so the turn continues it (and falls back fresh if the CLI
 * no longer knows it).
 */
async function adoptUnknownSession(sessions: SessionService, agent: AgentName, id: string) {
  const known = await sessions.list({ agent, key: id, limit: 1 });
  if (known.length === 0) await sessions.resume(id, { agent, providerSessionId: id });
}

/** Each session once, newest first, across every runner's last report. */
function mergeRecent(lists: { sessions: RecentSession[] }[], limit: number): RecentSession[] {
  const byId = new Map<string, RecentSession>();
  for (const s of lists.flatMap((l) => l.sessions)) {
    const seen = byId.get(s.sessionId);
    if (seen === undefined || seen.lastModified < s.lastModified) byId.set(s.sessionId, s);
  }
  return [...byId.values()].sort((a, b) => b.lastModified - a.lastModified).slice(0, limit);
}

function legacyRecent(agent: AgentName, s: RecentSession) {
  const shared = {
    sessionId: s.sessionId,
    lastModified: new Date(s.lastModified).toISOString(),
    sizeKB: Math.round(s.sizeBytes / 102.4) / 10,
    topic: s.topic,
  };
  return agent === 'claude' ? { ...shared, project: s.project ?? null } : shared;
}
