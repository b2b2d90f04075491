// AI coding agents on the wire: the `agent` task spec, what an agent attempt reports, sessions
// (session key → provider session id, per agent) and the recent sessions a runner reports.
import { Type, type Static } from 'typebox';

export const AGENTS = ['claude', 'codex', 'gemini'] as const;
export const AgentName = Type.Enum(AGENTS);
export type AgentName = (typeof AGENTS)[number];

/**
 * A provider session id as the CLIs print them (UUIDs, thread ids). It becomes an argv element
 * after `--resume`, so it may not start with `-` and holds no spaces or shell-looking characters.
 */
export const ProviderSessionId = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$',
});
const Uuid = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
});
const ModelName = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9][\\w.:/@-]*$',
});

export const AgentSpec = Type.Object(
  {
    agent: AgentName,
    /** Always one argv element; never seen by a shell. */
    prompt: Type.String({ minLength: 1, maxLength: 1_000_000 }),
    /** Overrides the runner's first model for this turn; the runner's list still follows it. */
    model: Type.Optional(ModelName),
    cwd: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, pattern: '^[^\\u0000]*$' })),
    /**
     * The provider session to continue. The server sets it from the task's session when the turn
     * is claimed; a client may set it to continue one session once, without a session key.
     */
    resume: Type.Optional(ProviderSessionId),
    /** Start a fresh conversation even though the session key has one (the next turn resumes it). */
    fresh: Type.Optional(Type.Boolean()),
    /** Claude only: the id a fresh session gets (`--session-id`), known before the run. */
    newSessionId: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);
export type AgentSpec = Static<typeof AgentSpec>;

export const AgentUsage = Type.Object({
  inputTokens: Type.Optional(Type.Integer({ minimum: 0 })),
  outputTokens: Type.Optional(Type.Integer({ minimum: 0 })),
  cacheReadTokens: Type.Optional(Type.Integer({ minimum: 0 })),
  cacheCreationTokens: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type AgentUsage = Static<typeof AgentUsage>;

/**
 * `outcome.output` of an agent attempt. The final text is also `outcome.stdout` (what legacy
 * clients read) and `sessionId`/`model` are also in `outcome.metadata`.
 */
export const AgentOutput = Type.Object({
  agent: AgentName,
  text: Type.String(),
  /** The provider session id from the CLI's first event; absent if it died before printing one. */
  sessionId: Type.Optional(Type.String()),
  model: Type.Optional(Type.String()),
  turns: Type.Optional(Type.Integer({ minimum: 0 })),
  durationMs: Type.Optional(Type.Integer({ minimum: 0 })),
  costUsd: Type.Optional(Type.Number({ minimum: 0 })),
  usage: Type.Optional(AgentUsage),
  /** True when this turn continued an earlier session. */
  resumed: Type.Boolean(),
  /** Set when the session to resume was refused and the turn ran in a fresh session instead. */
  freshBecause: Type.Optional(Type.String()),
  /** Models tried before the one that answered, each refused with a model error. */
  modelsSkipped: Type.Optional(Type.Array(Type.String())),
});
export type AgentOutput = Static<typeof AgentOutput>;

/** One conversation: a session key's current provider session for one agent. */
export const Session = Type.Object({
  agent: AgentName,
  key: Type.String(),
  /** Absent before the first turn reported one and after a reset: the next turn starts fresh. */
  providerSessionId: Type.Optional(Type.String()),
  createdAt: Type.Integer(),
  /** The last turn submitted or finished. */
  updatedAt: Type.Integer(),
  taskCount: Type.Integer(),
  lastTaskId: Type.Optional(Type.String()),
  callbackChannel: Type.Optional(Type.String()),
});
export type Session = Static<typeof Session>;

export const SessionList = Type.Object({
  sessions: Type.Array(Session),
  nextCursor: Type.Optional(Type.String()),
});
export type SessionList = Static<typeof SessionList>;

/** `POST /v1/sessions/:key/resume`: exactly one of the two. */
export const ResumeSessionBody = Type.Object(
  {
    agent: AgentName,
    providerSessionId: Type.Optional(ProviderSessionId),
    prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type ResumeSessionBody = Static<typeof ResumeSessionBody>;

/** A session found in a runner's own CLI storage, for "recent". */
export const RecentSession = Type.Object({
  sessionId: ProviderSessionId,
  /** Claude: the project directory the session belongs to. */
  project: Type.Optional(Type.String({ maxLength: 4096 })),
  lastModified: Type.Integer({ minimum: 0 }),
  sizeBytes: Type.Integer({ minimum: 0 }),
  /** The first user message, at most 150 characters. */
  topic: Type.String({ maxLength: 600 }),
});
export type RecentSession = Static<typeof RecentSession>;

export const ReportAgentSessionsBody = Type.Object(
  {
    runner: Type.String({ minLength: 1, maxLength: 128 }),
    agent: AgentName,
    sessions: Type.Array(RecentSession, { maxItems: 100 }),
  },
  { additionalProperties: false },
);
export type ReportAgentSessionsBody = Static<typeof ReportAgentSessionsBody>;

export const RecentSessionList = Type.Object({
  runner: Type.String(),
  agent: AgentName,
  reportedAt: Type.Optional(Type.Integer()),
  sessions: Type.Array(RecentSession),
});
export type RecentSessionList = Static<typeof RecentSessionList>;

export const ReportAgentSessionsReply = Type.Object({ stored: Type.Integer({ minimum: 0 }) });
export type ReportAgentSessionsReply = Static<typeof ReportAgentSessionsReply>;
