// Approvals on the wire: why a runner holds a task, the decision a person makes about it, and the
// canonical bytes of a signed remote approval. Pure code (no node:*), shared by SDK, server, runner.
import { Type, type Static } from 'typebox';
import { canonicalJson } from './signature.ts';

/** Separates approval signatures from task signatures made by the same key. */
export const SIGNED_APPROVAL_TYPE = 'outpost.approval.v1';

export const HOLD_DECISIONS = ['approved', 'rejected'] as const;
export type HoldDecisionKind = (typeof HOLD_DECISIONS)[number];

const Base64 = '^[A-Za-z0-9+/]*={0,2}$';
const KeyId = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
});

/** A remote approval's Ed25519 signature by a key the runner pins (required in signed mode). */
export const ApprovalSignature = Type.Object(
  {
    keyId: KeyId,
    /** Epoch ms after which the runner refuses the approval. */
    expiresAt: Type.Integer({ minimum: 0, maximum: 253_402_300_799_999 }),
    sig: Type.String({ minLength: 1, maxLength: 256, pattern: Base64 }),
  },
  { additionalProperties: false },
);
export type ApprovalSignature = Static<typeof ApprovalSignature>;

/** What a person decided about a held task, and who: `local user alice`, `token laptop`. */
export const HoldDecision = Type.Object({
  decision: Type.Enum(HOLD_DECISIONS),
  by: Type.String({ minLength: 1, maxLength: 256 }),
  at: Type.Integer(),
  /** `local`: on the runner's machine; `remote`: through the API, relayed by the server. */
  source: Type.Enum(['local', 'remote'] as const),
  reason: Type.Optional(Type.String({ maxLength: 1000 })),
  signature: Type.Optional(ApprovalSignature),
});
export type HoldDecision = Static<typeof HoldDecision>;

/** `task.hold`: why the runner holds the task (the rule it matched), until when, and the decision. */
export const TaskHold = Type.Object({
  reason: Type.String({ maxLength: 2000 }),
  rule: Type.String({ maxLength: 256 }),
  heldAt: Type.Integer(),
  /** The runner refuses the task (`approval expired`) if nobody decides by then. */
  expiresAt: Type.Integer(),
  decision: Type.Optional(HoldDecision),
});
export type TaskHold = Static<typeof TaskHold>;

/** `POST /v1/tasks/:id/approve` and `/reject`. */
export const DecideBody = Type.Object(
  {
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
    signature: Type.Optional(ApprovalSignature),
  },
  { additionalProperties: false },
);
export type DecideBody = Static<typeof DecideBody>;

/** What an approval signature covers: the task id, the decision, the task's own nonce, expiry. */
export interface SignedApprovalFields {
  taskId: string;
  decision: HoldDecisionKind;
  /** The held task's signature nonce (null for an unsigned task), so it binds to that content. */
  taskNonce: string | null;
  expiresAt: number;
  keyId: string;
}

/** The exact text an approval signature is made over. */
export function signedApprovalText(fields: SignedApprovalFields): string {
  return canonicalJson({
    type: SIGNED_APPROVAL_TYPE,
    taskId: fields.taskId,
    decision: fields.decision,
    taskNonce: fields.taskNonce,
    expiresAt: fields.expiresAt,
    keyId: fields.keyId,
  });
}
