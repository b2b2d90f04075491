// Whether the runner accepts a decision made through the server's API about a task it holds. The
// server is not trusted: a remote approval counts only when the local policy allows remote
// approval and, in require-signed mode, only when a trusted key signed it for exactly this task.
import { verify, type KeyObject } from 'node:crypto';
import { signedApprovalText, type HoldDecision } from '../../protocol/approvals.ts';
import { fromBase64 } from '../../protocol/signature.ts';
import type { RunnerPolicy } from '../policy/policy.ts';
import type { SigningSettings } from '../signing-config.ts';
import type { HeldTask } from './pending-approvals.ts';

export type RemoteVerdict =
  { ok: true; by: string } | { ok: false; rule: string; message: string; by: string };

export interface RemoteCheckDeps {
  policy: Pick<RunnerPolicy, 'approvals'>;
  signing: Pick<SigningSettings, 'mode' | 'clockSkewMs' | 'maxValidityMs'>;
  keys: ReadonlyMap<string, KeyObject>;
  now: number;
}

/**
 * A remote rejection always counts: the server can cancel any task anyway, so refusing to stop is
 * no protection. A remote approval makes something run, so it must pass the policy and signature.
 */
export function checkRemoteDecision(
  held: HeldTask,
  decision: HoldDecision,
  deps: RemoteCheckDeps,
): RemoteVerdict {
  const by = decision.signature ? `${decision.by}, key ${decision.signature.keyId}` : decision.by;
  const refuse = (rule: string, message: string): RemoteVerdict => ({
    ok: false,
    rule,
    message,
    by,
  });
  if (decision.decision === 'rejected') return { ok: true, by };
  if (!deps.policy.approvals.remote) {
    return refuse('approvals.remote', "remote approval is off in this runner's policy");
  }
  if (deps.signing.mode !== 'require') return { ok: true, by };
  const sig = decision.signature;
  if (!sig)
    return refuse('approvals.unsigned', 'the approval is not signed and this runner requires it');
  const key = deps.keys.get(sig.keyId);
  if (!key) return refuse('approvals.unknown-key', `key '${sig.keyId}' is not trusted here`);
  const text = signedApprovalText({
    taskId: held.taskId,
    decision: decision.decision,
    taskNonce: held.taskNonce,
    expiresAt: sig.expiresAt,
    keyId: sig.keyId,
  });
  if (!verifies(text, sig.sig, key)) {
    return refuse(
      'approvals.invalid',
      `the approval signature by '${sig.keyId}' does not match this task`,
    );
  }
  const { clockSkewMs, maxValidityMs } = deps.signing;
  if (sig.expiresAt + clockSkewMs < deps.now) {
    return refuse(
      'approvals.expired',
      `the approval expired at ${new Date(sig.expiresAt).toISOString()}`,
    );
  }
  if (sig.expiresAt > deps.now + maxValidityMs + clockSkewMs) {
    return refuse('approvals.expired', `the approval is valid for longer than this runner allows`);
  }
  return { ok: true, by };
}

function verifies(text: string, sig: string, key: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(text, 'utf8'), key, fromBase64(sig));
  } catch {
    return false; // malformed base64: not a valid signature either way
  }
}
