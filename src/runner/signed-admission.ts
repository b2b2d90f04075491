// Require-signed mode: before a claimed task starts, the runner checks that one of its trusted
// keys signed exactly this task, that the signature is current, and that its nonce is new. The
// server is not trusted here: it can delay or drop tasks, but not forge, alter or replay them.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import {
  fromBase64,
  parsePublicKey,
  signedTaskText,
  type TaskSignature,
} from '../protocol/signature.ts';
import type { Task } from '../protocol/tasks.ts';
import type { ReplayCache } from './replay-cache.ts';
import type { SigningSettings } from './signing-config.ts';

export type SigningRule =
  | 'signing.unsigned'
  | 'signing.unknown-key'
  | 'signing.invalid'
  | 'signing.expired'
  | 'signing.replayed'
  | 'signing.wrong-runner';

export type SignedVerdict = { ok: true } | { ok: false; rule: SigningRule; message: string };

export interface SignedCheckDeps {
  settings: Pick<SigningSettings, 'clockSkewMs' | 'maxValidityMs'>;
  keys: ReadonlyMap<string, KeyObject>;
  cache: ReplayCache;
  now: number;
  /** This runner's name and labels: a signed target naming another runner is refused. */
  runner?: { name: string; labels: readonly string[] };
}

/** Checks `task` and, when it passes, records its nonce (durably) before saying ok. */
export function checkSignedTask(task: Task, deps: SignedCheckDeps): SignedVerdict {
  const sig = task.signature;
  if (!sig) return refuse('signing.unsigned', 'the task is not signed and this runner requires it');
  const key = deps.keys.get(sig.keyId);
  if (!key) return refuse('signing.unknown-key', `key '${sig.keyId}' is not trusted here`);
  if (!signatureMatches(task, sig, key)) {
    return refuse('signing.invalid', `the signature by '${sig.keyId}' does not match the task`);
  }
  const { clockSkewMs, maxValidityMs } = deps.settings;
  if (sig.expiresAt + clockSkewMs < deps.now) {
    return refuse('signing.expired', `the signature expired at ${iso(sig.expiresAt)}`);
  }
  if (sig.expiresAt > deps.now + maxValidityMs + clockSkewMs) {
    return refuse(
      'signing.expired',
      `the signature is valid until ${iso(sig.expiresAt)}, longer than this runner allows (${maxValidityMs} ms)`,
    );
  }
  const misrouted = deps.runner && misroutedBecause(task, deps.runner);
  if (misrouted) return refuse('signing.wrong-runner', misrouted);
  if (deps.cache.check(sig.keyId, sig.nonce, task.id) === 'replayed') {
    return refuse('signing.replayed', `nonce ${sig.nonce} was already used by another task`);
  }
  deps.cache.remember(sig.keyId, sig.nonce, task.id, sig.expiresAt + clockSkewMs, deps.now);
  return { ok: true };
}

/**
 * The signature covers the spec as the client sent it. For an agent turn of a session, the
 * server adds `spec.resume` at claim time (the provider session to continue), so a turn that
 * does not verify as delivered is tried once more without that key — only when the client could
 * not have set it: the turn has a session key and did not ask for a fresh session. A signed
 * `resume` is covered like any field; an injected one can only pick which conversation the
 * signed prompt continues (see docs/security.md).
 */
function signatureMatches(task: Task, sig: TaskSignature, key: KeyObject): boolean {
  if (verifies(task, task.spec, sig, key)) return true;
  const { resume, ...rest } = task.spec;
  const injectable = task.kind === 'agent' && task.sessionKey !== undefined && rest.fresh !== true;
  return injectable && resume !== undefined && verifies(task, rest, sig, key);
}

function verifies(
  task: Task,
  spec: Record<string, unknown>,
  sig: TaskSignature,
  key: KeyObject,
): boolean {
  try {
    const text = signedTaskText({ ...task, spec }, sig);
    return verify(null, Buffer.from(text, 'utf8'), key, fromBase64(sig.sig));
  } catch {
    return false; // malformed base64 or a non-finite number: not a valid signature either way
  }
}

/** A valid signature for another runner: the server re-routed it (or a label does not match). */
function misroutedBecause(
  task: Task,
  runner: { name: string; labels: readonly string[] },
): string | undefined {
  const target = task.target;
  if (target?.runner !== undefined && target.runner !== runner.name) {
    return `the task was signed for runner '${target.runner}', not '${runner.name}'`;
  }
  const missing = target?.labels?.filter((label) => !runner.labels.includes(label)) ?? [];
  if (missing.length > 0)
    return `the task was signed for labels this runner lacks: ${missing.join(', ')}`;
  return undefined;
}

/** The trusted keys as KeyObjects, by id. */
export function trustedKeyObjects(settings: SigningSettings): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const { id, publicKey } of settings.trustedKeys) {
    const raw = parsePublicKey(publicKey);
    if (!raw) throw new Error(`trusted key '${id}' is not ed25519:<base64>`);
    const x = Buffer.from(raw).toString('base64url');
    keys.set(id, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }));
  }
  return keys;
}

/** A refused task's outcome: never started, not retryable. */
function refuse(rule: SigningRule, message: string): SignedVerdict {
  return { ok: false, rule, message };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
