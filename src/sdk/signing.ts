// Client-side task signing with Web Crypto (Ed25519), so the SDK stays fetch-only and could sign
// in a browser. The runner verifies; the server only stores and forwards the signature.
import type { CreateTaskBody } from '../protocol/tasks.ts';
import { fromBase64, signedTaskText, toBase64, type TaskSignature } from '../protocol/signature.ts';
import {
  signedApprovalText,
  type ApprovalSignature,
  type SignedApprovalFields,
} from '../protocol/approvals.ts';

/** Web Crypto's key type, named through the global crypto (no DOM lib, no node:crypto import). */
type CryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/** A Node KeyObject, described by shape so the SDK imports nothing from node:*. */
interface ExportableKey {
  export(options: { format: 'pem'; type: 'pkcs8' }): string | { toString(): string };
}

export interface SigningKey {
  /** The id the runners' `trustedKeys` know the public key by. */
  keyId: string;
  /** PKCS#8 PEM text (what `outpost keys create` writes), a Node KeyObject, or a CryptoKey. */
  privateKey: string | ExportableKey | CryptoKey;
  /** How long a signed task stays valid after it is due to run; default 1 hour. */
  ttlMs?: number;
}

export const DEFAULT_SIGNATURE_TTL_MS = 60 * 60_000;

/** Signs `body` (adds `signature`); every call gets a fresh nonce. */
export async function signTaskBody(
  body: CreateTaskBody,
  key: SigningKey,
  now = Date.now(),
): Promise<CreateTaskBody> {
  const privateKey = await importSigningKey(key.privateKey);
  // A task scheduled for later must still be valid when it becomes due.
  const expiresAt = Math.max(now, body.runAt ?? 0) + (key.ttlMs ?? DEFAULT_SIGNATURE_TTL_MS);
  const fields = { keyId: key.keyId, nonce: newNonce(), expiresAt };
  const text = signedTaskText(body, fields);
  const sig = await crypto.subtle.sign('Ed25519', privateKey, new TextEncoder().encode(text));
  const signature: TaskSignature = { ...fields, sig: toBase64(new Uint8Array(sig)) };
  return { ...body, signature };
}

/** A signer bound to one key, importing it once. */
export function createTaskSigner(
  key: SigningKey,
): (body: CreateTaskBody) => Promise<CreateTaskBody> {
  let imported: Promise<CryptoKey> | undefined;
  return async (body) => {
    imported ??= importSigningKey(key.privateKey);
    return signTaskBody(body, { ...key, privateKey: await imported });
  };
}

async function importSigningKey(key: SigningKey['privateKey']): Promise<CryptoKey> {
  if (isCryptoKey(key)) return key;
  const pem = typeof key === 'string' ? key : String(key.export({ format: 'pem', type: 'pkcs8' }));
  const match = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (!match) throw new TypeError('signingKey: expected a PKCS#8 PEM Ed25519 private key');
  const der = fromBase64(match[1]!.replace(/\s+/g, ''));
  return crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
}

function isCryptoKey(key: SigningKey['privateKey']): key is CryptoKey {
  return typeof key === 'object' && 'usages' in key && 'algorithm' in key;
}

/** 128 random bits, base64url: unique per task without coordination. */
function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** How long a signed approval stays valid: long enough to reach a runner on its next heartbeat. */
export const DEFAULT_APPROVAL_TTL_MS = 10 * 60_000;

/**
 * Signs a decision about a held task, bound to the task's own signature nonce (null for an
 * unsigned task), so it can approve exactly the task a trusted key signed and nothing else.
 * @example const signature = await signApproval(key, { taskId, decision: 'approved', taskNonce });
 */
export async function signApproval(
  key: SigningKey,
  fields: Omit<SignedApprovalFields, 'keyId' | 'expiresAt'> & { expiresAt?: number },
  now = Date.now(),
): Promise<ApprovalSignature> {
  const privateKey = await importSigningKey(key.privateKey);
  const expiresAt = fields.expiresAt ?? now + DEFAULT_APPROVAL_TTL_MS;
  const text = signedApprovalText({ ...fields, expiresAt, keyId: key.keyId });
  const sig = await crypto.subtle.sign('Ed25519', privateKey, new TextEncoder().encode(text));
  return { keyId: key.keyId, expiresAt, sig: toBase64(new Uint8Array(sig)) };
}
