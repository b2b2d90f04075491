// The runner side of the wire: hello, claim, heartbeat, finish, and a running turn's session.
import { AgentName } from './agents.ts';
import { Type, type Static } from 'typebox';
import { ProviderSessionId } from './agents.ts';
import { Kind, Outcome, Task, TaskState } from './tasks.ts';
import { HoldDecision } from './approvals.ts';

const RunnerName = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
});
const Id = Type.String({ minLength: 1, maxLength: 128 });

export const HelloBody = Type.Object(
  {
    name: RunnerName,
    instanceId: Id,
    labels: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 }),
    ),
    capacity: Type.Integer({ minimum: 1, maximum: 256 }),
    kinds: Type.Array(Kind, { maxItems: 32 }),
    version: Type.String({ maxLength: 64 }),
    policyDigest: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type HelloBody = Static<typeof HelloBody>;

export const HelloReply = Type.Object({
  runner: Type.String(),
  leaseMs: Type.Integer(),
  heartbeatMs: Type.Integer(),
  serverVersion: Type.String(),
  serverTime: Type.Integer(),
  /**
   * Protocol extensions this server takes. `claim-acks`: a claim may carry `acks`, acknowledging
   * the claims of the reply before (the heartbeat that would otherwise follow each claim).
   */
  features: Type.Optional(Type.Array(Type.String())),
});
export type HelloReply = Static<typeof HelloReply>;

export const LeaseRef = Type.Object(
  { taskId: Id, leaseToken: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);
export type LeaseRef = Static<typeof LeaseRef>;

/** The longest a claim may wait for work; a runner parked that long is still online. */
export const MAX_CLAIM_WAIT_MS = 60_000;

export const ClaimBody = Type.Object(
  {
    runner: RunnerName,
    instanceId: Type.Optional(Id),
    max: Type.Integer({ minimum: 1, maximum: 256 }),
    waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_CLAIM_WAIT_MS })),
    kinds: Type.Optional(Type.Array(Kind, { maxItems: 32 })),
    /** The agent CLIs this runner has: `agent` tasks for other agents wait for another runner. */
    agents: Type.Optional(Type.Array(AgentName, { maxItems: 8 })),
    /**
     * Acknowledges these leases (claims of an earlier reply) before claiming, as a heartbeat of
     * them would; the reply's `acked` answers as the heartbeat would. Only to a server whose hello
     * lists `claim-acks`. See CLAIM_ACKS.
     */
    acks: Type.Optional(Type.Array(LeaseRef, { maxItems: 256 })),
  },
  { additionalProperties: false },
);
export type ClaimBody = Static<typeof ClaimBody>;

export const Claim = Type.Object({
  task: Task,
  attempt: Type.Integer(),
  leaseToken: Type.String(),
  leaseExpiresAt: Type.Integer(),
});
export type Claim = Static<typeof Claim>;

export const HeartbeatBody = Type.Object(
  { runner: RunnerName, leases: Type.Array(LeaseRef, { maxItems: 1024 }) },
  { additionalProperties: false },
);
export type HeartbeatBody = Static<typeof HeartbeatBody>;

export const HeartbeatReply = Type.Object({
  leases: Type.Array(Type.Object({ taskId: Type.String(), leaseExpiresAt: Type.Integer() })),
  /** Leases the server no longer honours: the runner must stop and not report. */
  lost: Type.Array(Type.String()),
  /** Tasks a client asked to cancel. */
  cancel: Type.Array(Type.String()),
  /** Decisions made through the API about tasks this runner holds; the runner's policy decides. */
  decisions: Type.Optional(
    Type.Array(Type.Object({ taskId: Type.String(), decision: HoldDecision })),
  ),
});
export type HeartbeatReply = Static<typeof HeartbeatReply>;

export const ClaimReply = Type.Object({
  tasks: Type.Array(Claim),
  /** The answer to the claim's `acks`, as a heartbeat of those leases would answer; only then. */
  acked: Type.Optional(HeartbeatReply),
});
export type ClaimReply = Static<typeof ClaimReply>;

/** The hello `features` entry of a server that takes `acks` in a claim. */
export const CLAIM_ACKS = 'claim-acks';

export const FinishBody = Type.Object(
  {
    taskId: Id,
    leaseToken: Type.String({ minLength: 1, maxLength: 128 }),
    outcome: Outcome,
  },
  { additionalProperties: false },
);
export type FinishBody = Static<typeof FinishBody>;

export const FinishReply = Type.Object({ task: Task });
export type FinishReply = Static<typeof FinishReply>;

/** Most outcomes one finish request may carry; a busy runner sends what ended while one was in flight. */
export const MAX_FINISH_BATCH = 256;

/**
 * `POST /v1/runner/finish` with several outcomes: each is fenced by its own lease token and
 * answered on its own, and the server commits them all in one transaction before it replies.
 */
export const FinishBatchBody = Type.Object(
  { results: Type.Array(FinishBody, { minItems: 1, maxItems: MAX_FINISH_BATCH }) },
  { additionalProperties: false },
);
export type FinishBatchBody = Static<typeof FinishBatchBody>;

/** One outcome's answer, in request order: the state it left the task in, or why it was refused. */
export const FinishResult = Type.Object({
  taskId: Type.String(),
  /** The task's state after this finish (`queued` when a failed attempt will be retried). */
  state: Type.Optional(TaskState),
  /** `lease_lost` (the lease is no longer held) or `forbidden` (another runner holds it). */
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});
export type FinishResult = Static<typeof FinishResult>;

export const FinishBatchReply = Type.Object({ results: Type.Array(FinishResult) });
export type FinishBatchReply = Static<typeof FinishBatchReply>;

/**
 * `POST /v1/runner/turn-session`: the provider session id a running agent turn's CLI just printed,
 * sent before the turn ends so a runner that dies mid-turn does not take the conversation with it.
 */
export const TurnSessionBody = Type.Object(
  {
    taskId: Id,
    leaseToken: Type.String({ minLength: 1, maxLength: 128 }),
    providerSessionId: ProviderSessionId,
  },
  { additionalProperties: false },
);
export type TurnSessionBody = Static<typeof TurnSessionBody>;

/** `recorded` is false when the task is not an agent turn with a session key (nothing to keep). */
export const TurnSessionReply = Type.Object({ recorded: Type.Boolean() });
export type TurnSessionReply = Static<typeof TurnSessionReply>;

/**
 * `POST /v1/runner/hold`: the runner holds a claimed task for a person's approval (state `held`).
 * Holding again replaces the hold and clears a decision the runner did not accept.
 */
export const HoldBody = Type.Object(
  {
    taskId: Id,
    leaseToken: Type.String({ minLength: 1, maxLength: 128 }),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    rule: Type.String({ minLength: 1, maxLength: 256 }),
    expiresAt: Type.Integer({ minimum: 0 }),
    /**
     * Holding again after refusing a remote decision: that decision's `at`. Only the refused
     * decision is cleared; one a person made meanwhile stays for the next heartbeat.
     */
    refusedAt: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type HoldBody = Static<typeof HoldBody>;

/** `POST /v1/runner/resume`: an approved held task runs now, in the same attempt (state `running`). */
export const ResumeBody = Type.Object(
  {
    taskId: Id,
    leaseToken: Type.String({ minLength: 1, maxLength: 128 }),
    decision: HoldDecision,
  },
  { additionalProperties: false },
);
export type ResumeBody = Static<typeof ResumeBody>;

export const HoldReply = Type.Object({ task: Task });
export type HoldReply = Static<typeof HoldReply>;
