// Signed tasks on the wire: the signature a client attaches to a task and the canonical bytes it
// signs. Pure code (no node:*), shared by the SDK that signs and the runner that verifies.
import { Type, type Static } from 'typebox';

/** Separates task signatures from anything else the same key may sign later (approvals). */
export const SIGNED_TASK_TYPE = 'outpost.task.v1';

const Base64 = '^[A-Za-z0-9+/]*={0,2}$';

/** `signature` on a created and a claimed task: opaque to the server, which cannot verify it. */
export const TaskSignature = Type.Object(
  {
    /** The runner looks the public key up by this id among its trusted keys. */
    keyId: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    /** Random and unique per task: a runner refuses a nonce it already saw on another task. */
    nonce: Type.String({ minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }),
    /** Epoch ms after which a runner refuses the task. */
    expiresAt: Type.Integer({ minimum: 0, maximum: 253_402_300_799_999 }),
    /** Ed25519 signature (64 bytes, standard base64) of the canonical form. */
    sig: Type.String({ minLength: 1, maxLength: 256, pattern: Base64 }),
  },
  { additionalProperties: false },
);
export type TaskSignature = Static<typeof TaskSignature>;

/** What a signature covers: the task's content, not its scheduling (see docs/security.md). */
export interface SignedTaskFields {
  kind: string;
  spec: Record<string, unknown>;
  target?: unknown;
  sessionKey?: string;
}

/**
 * JSON with object keys sorted (by UTF-16 code units, as Array.prototype.sort does), no
 * whitespace, `undefined` members left out; strings and numbers as JSON.stringify writes them.
 * Both sides must produce the same bytes for the same value, whatever order keys arrived in.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    const members = keys.map(
      (k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`,
    );
    return `{${members.join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new TypeError('a signed task cannot hold a non-finite number');
  }
  return JSON.stringify(value);
}

/** The exact text that is signed: absent target and session key are `null`, never left out. */
export function signedTaskText(
  task: SignedTaskFields,
  sig: Pick<TaskSignature, 'keyId' | 'nonce' | 'expiresAt'>,
): string {
  return canonicalJson({
    type: SIGNED_TASK_TYPE,
    kind: task.kind,
    spec: task.spec,
    target: task.target ?? null,
    sessionKey: task.sessionKey ?? null,
    nonce: sig.nonce,
    expiresAt: sig.expiresAt,
    keyId: sig.keyId,
  });
}

/** Standard base64 of bytes, without Buffer (browsers). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The one-line public key users paste into a runner's `trustedKeys`: `ed25519:<base64 of 32 bytes>`. */
export const PUBLIC_KEY_PREFIX = 'ed25519:';

export function formatPublicKey(raw: Uint8Array): string {
  return PUBLIC_KEY_PREFIX + toBase64(raw);
}

/** The 32 raw key bytes of `ed25519:<base64>`, or undefined when it is not one. */
export function parsePublicKey(text: string): Uint8Array | undefined {
  if (!text.startsWith(PUBLIC_KEY_PREFIX)) return undefined;
  const body = text.slice(PUBLIC_KEY_PREFIX.length);
  if (!new RegExp(Base64).test(body)) return undefined;
  try {
    const raw = fromBase64(body);
    return raw.length === 32 ? raw : undefined;
  } catch {
    return undefined;
  }
}
