// Tasks on the wire: kinds and their specs, states, outcomes, and the create/list shapes.
import { Type, type Static } from 'typebox';
import { AgentSpec } from './agents.ts';
import { CallbackRequest, CallbackStatus } from './callbacks.ts';
import { TaskSignature } from './signature.ts';
import { TaskHold } from './approvals.ts';

export const KINDS = [
  'shell',
  'file.read',
  'file.write',
  'file.edit',
  'file.list',
  'agent',
] as const;
export const Kind = Type.Enum(KINDS);
export type Kind = (typeof KINDS)[number];

export const TERMINAL_STATES = ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'] as const;
export const STATES = ['scheduled', 'held', 'queued', 'running', ...TERMINAL_STATES] as const;
export const TaskState = Type.Enum(STATES);
export type TaskState = (typeof STATES)[number];
export type TerminalState = (typeof TERMINAL_STATES)[number];

export function isTerminal(state: TaskState): state is TerminalState {
  return (TERMINAL_STATES as readonly string[]).includes(state);
}

// NUL can't appear in a real path and truncates it in C APIs: refuse it at the edge.
const Path = Type.String({ minLength: 1, maxLength: 4096, pattern: '^[^\\u0000]*$' });
const Encoding = Type.Union([Type.Literal('utf8'), Type.Literal('base64')]);

export const ShellSpec = Type.Object(
  {
    command: Type.Union([
      Type.String({ minLength: 1, maxLength: 1_000_000 }),
      Type.Array(Type.String({ maxLength: 1_000_000 }), { minItems: 1, maxItems: 10_000 }),
    ]),
    cwd: Type.Optional(Path),
    env: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String()),
    ),
  },
  { additionalProperties: false },
);
export const FileReadSpec = Type.Object(
  {
    path: Path,
    encoding: Type.Optional(Encoding),
    maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 * 1024 * 1024 })),
  },
  { additionalProperties: false },
);
export const FileWriteSpec = Type.Object(
  { path: Path, content: Type.String(), encoding: Type.Optional(Encoding) },
  { additionalProperties: false },
);
export const FileEditSpec = Type.Object(
  {
    path: Path,
    oldString: Type.String({ minLength: 1 }),
    newString: Type.String(),
    replaceAll: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const FileListSpec = Type.Object({ path: Path }, { additionalProperties: false });

export const SPEC_SCHEMAS = {
  shell: ShellSpec,
  'file.read': FileReadSpec,
  'file.write': FileWriteSpec,
  'file.edit': FileEditSpec,
  'file.list': FileListSpec,
  agent: AgentSpec,
} as const;

export type ShellSpec = Static<typeof ShellSpec>;
export type FileReadSpec = Static<typeof FileReadSpec>;
export type FileWriteSpec = Static<typeof FileWriteSpec>;
export type FileEditSpec = Static<typeof FileEditSpec>;
export type FileListSpec = Static<typeof FileListSpec>;
export type SpecOf<K extends Kind> = Static<(typeof SPEC_SCHEMAS)[K]>;

export const OUTCOME_STATUSES = TERMINAL_STATES;
export const OutcomeStatus = Type.Enum(OUTCOME_STATUSES);
export type OutcomeStatus = TerminalState;

export const TaskError = Type.Object({
  /**
   * exit | timeout | cancelled | spawn | policy | refused | not_found | not_unique | too_large |
   * io | lost | internal (agents add bad_flags, provider, turn_limit, crashed)
   */
  kind: Type.String({ maxLength: 64 }),
  message: Type.String({ maxLength: 65_536 }),
  exitCode: Type.Optional(Type.Integer()),
  retryable: Type.Boolean(),
  /** `refused`: the runner's rule that refused the task before it started, e.g. `commands.deny[2]`. */
  rule: Type.Optional(Type.String({ maxLength: 256 })),
});
export type TaskError = Static<typeof TaskError>;

/** How an attempt ended. Data, never thrown. `output` holds the kind-specific result. */
export const Outcome = Type.Object({
  status: OutcomeStatus,
  exitCode: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  signal: Type.Optional(Type.String({ maxLength: 32 })),
  stdout: Type.Optional(Type.String()),
  stderr: Type.Optional(Type.String()),
  /** Bytes the task produced on each stream, including any past the cap. */
  stdoutBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  stderrBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  truncated: Type.Optional(Type.Boolean()),
  output: Type.Optional(Type.Unknown()),
  error: Type.Optional(TaskError),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  durationMs: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type Outcome = Static<typeof Outcome>;

export const Target = Type.Object(
  {
    runner: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    labels: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 }),
    ),
  },
  { additionalProperties: false },
);
export type Target = Static<typeof Target>;

/** A task's concurrency key and limit, as a read shows them. */
export const Concurrency = Type.Object({ key: Type.String(), limit: Type.Integer() });
export type Concurrency = Static<typeof Concurrency>;

/** One attempt at a task: who ran it, when, and how it ended (`requeued` when its lease expired). */
export const Attempt = Type.Object({
  attempt: Type.Integer(),
  runner: Type.String(),
  instanceId: Type.Optional(Type.String()),
  startedAt: Type.Integer(),
  endedAt: Type.Optional(Type.Integer()),
  status: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
});
export type Attempt = Static<typeof Attempt>;

export const Task = Type.Object({
  id: Type.String(),
  kind: Kind,
  spec: Type.Record(Type.String(), Type.Unknown()),
  state: TaskState,
  priority: Type.Integer(),
  runAt: Type.Integer(),
  timeoutMs: Type.Integer(),
  maxAttempts: Type.Integer(),
  /** Also retry a non-zero exit or a timeout while attempts remain (default: only transient errors). */
  retryOnFailure: Type.Boolean(),
  attempt: Type.Integer(),
  target: Type.Optional(Target),
  labels: Type.Optional(Type.Array(Type.String())),
  sessionKey: Type.Optional(Type.String()),
  concurrency: Type.Optional(Concurrency),
  /**
   * Why a queued task is not running yet, worked out from the runner registry when it is read
   * (e.g. `waiting for a runner with labels gpu`); only on a single task's read, never stored.
   */
  waitReason: Type.Optional(Type.String()),
  /** The schedule that created this task (`metadata.scheduleId`), if one did. */
  scheduleId: Type.Optional(Type.String()),
  /** The client's signature, handed to the runner as it came (the server cannot verify it). */
  signature: Type.Optional(TaskSignature),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
  startedAt: Type.Optional(Type.Integer()),
  finishedAt: Type.Optional(Type.Integer()),
  runner: Type.Optional(Type.String()),
  leaseExpiresAt: Type.Optional(Type.Integer()),
  cancelRequested: Type.Boolean(),
  outcome: Type.Optional(Outcome),
  /** Where the answer is posted when the task ends, and how that went; only on a single task's read. */
  callbacks: Type.Optional(Type.Array(CallbackStatus)),
  /** Every attempt so far, oldest first; only on a single task's read, not in lists. */
  attempts: Type.Optional(Type.Array(Attempt)),
  /** Held by its runner for a person's approval: the rule, the reason, the expiry, the decision. */
  hold: Type.Optional(TaskHold),
});
export type Task = Static<typeof Task>;

export const LIMITS = {
  timeoutMs: { min: 1_000, max: 86_400_000, default: 30_000 },
  priority: { min: -1000, max: 1000 },
  maxAttempts: { min: 1, max: 100, default: 1 },
  waitMs: { max: 60_000 },
  listLimit: { max: 500, default: 50 },
  /** The last millisecond of year 9999: later is a typo, not a plan. */
  runAt: { max: 253_402_300_799_999 },
  concurrencyLimit: { min: 1, max: 1000, default: 1 },
} as const;

/** A concurrency key: any text without control characters, as long as a session key may be. */
const ConcurrencyKey = Type.String({
  minLength: 1,
  maxLength: 256,
  pattern: '^[^\\u0000-\\u001f]+$',
});

/**
 * At most `limit` tasks with the same `key` run at once (e.g. one deploy at a time); the others
 * stay `queued`. On a created task `limit` defaults to 1; a read always shows it.
 */
export const ConcurrencyRequest = Type.Object(
  {
    key: ConcurrencyKey,
    limit: Type.Optional(
      Type.Integer({ minimum: LIMITS.concurrencyLimit.min, maximum: LIMITS.concurrencyLimit.max }),
    ),
  },
  { additionalProperties: false },
);
export type ConcurrencyRequest = Static<typeof ConcurrencyRequest>;

export const CreateTaskBody = Type.Object(
  {
    kind: Kind,
    spec: Type.Record(Type.String(), Type.Unknown()),
    timeoutMs: Type.Optional(
      Type.Integer({ minimum: LIMITS.timeoutMs.min, maximum: LIMITS.timeoutMs.max }),
    ),
    priority: Type.Optional(
      Type.Integer({ minimum: LIMITS.priority.min, maximum: LIMITS.priority.max }),
    ),
    runAt: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.runAt.max })),
    maxAttempts: Type.Optional(
      Type.Integer({ minimum: LIMITS.maxAttempts.min, maximum: LIMITS.maxAttempts.max }),
    ),
    retryOnFailure: Type.Optional(Type.Boolean()),
    target: Type.Optional(Target),
    labels: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 }),
    ),
    /** Agent tasks: the conversation this turn belongs to (per agent); turns of a key run in order. */
    sessionKey: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    /** At most `limit` (default 1) tasks with this key run at once; the rest wait `queued`. */
    concurrency: Type.Optional(ConcurrencyRequest),
    /** Where the server posts the answer when the task ends. */
    callback: Type.Optional(CallbackRequest),
    /** Signed mode: the client's Ed25519 signature of the task (protocol/signature.ts). */
    signature: Type.Optional(TaskSignature),
  },
  { additionalProperties: false },
);
export type CreateTaskBody = Static<typeof CreateTaskBody>;

export const TaskList = Type.Object({
  tasks: Type.Array(Task),
  nextCursor: Type.Optional(Type.String()),
});
export type TaskList = Static<typeof TaskList>;
