// Signing for the commands that create tasks (run, submit, agent): --sign-key PATH or env
// OUTPOST_SIGNING_KEY names a private key from `outpost keys create`; the SDK signs every task.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../protocol/errors.ts';
import { formatPublicKey } from '../protocol/signature.ts';
import type { ClientOptions } from '../sdk/client.ts';
import type { SigningKey } from '../sdk/signing.ts';
import { loadConnection, withConnectionOptions, type ConnectionFlags } from './connection.ts';

export interface SigningFlags {
  signKey?: string;
  signKeyId?: string;
}

const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function withSigningOptions(cmd: Command): Command {
  return cmd
    .option(
      '--sign-key <path>',
      'sign the task with this private key (env OUTPOST_SIGNING_KEY; see `outpost keys create`)',
    )
    .option(
      '--sign-key-id <id>',
      "the key's id in the runners' trustedKeys (env OUTPOST_SIGNING_KEY_ID; default: the file name without .key)",
    );
}

/** The connection plus the signing key, if one is configured: what `new OutpostClient` takes. */
export function clientOptionsOf(
  flags: ConnectionFlags & SigningFlags,
  env: NodeJS.ProcessEnv = process.env,
): ClientOptions {
  const signingKey = loadSigningKey(flags, env);
  return { ...loadConnection(flags, env), ...(signingKey ? { signingKey } : {}) };
}

export function loadSigningKey(
  flags: SigningFlags,
  env: NodeJS.ProcessEnv = process.env,
): SigningKey | undefined {
  const path = flags.signKey ?? (env.OUTPOST_SIGNING_KEY || undefined);
  if (path === undefined) return undefined;
  const keyId = flags.signKeyId ?? (env.OUTPOST_SIGNING_KEY_ID || keyIdOfPath(path));
  if (!KEY_ID.test(keyId)) {
    throw new AppError(
      'bad_request',
      `--sign-key-id: not a valid key id: ${JSON.stringify(keyId)}`,
    );
  }
  return { keyId, privateKey: readPrivateKey(path) };
}

/** Reads an Ed25519 private key PEM, refusing anything else with a clear message. */
export function readPrivateKey(path: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new AppError('bad_request', `--sign-key: cannot read ${path} (${code})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new AppError('bad_request', `--sign-key: ${path} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new AppError('bad_request', `--sign-key: ${path} is not an Ed25519 key`);
  }
  return key;
}

/** `ed25519:<base64 raw key>` of a private or public key. */
export function publicKeyLine(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return formatPublicKey(new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url')));
}

/** `~/.outpost/keys/laptop.key` → `laptop`. */
export function keyIdOfPath(path: string): string {
  return basename(path).replace(/\.(key|pem)$/, '');
}

export function defaultKeysDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.OUTPOST_DATA_DIR ?? join(homedir(), '.outpost'), 'keys');
}

/** --url, --token and the signing options: for the commands that create tasks. */
export function withTaskClientOptions(cmd: Command): Command {
  return withSigningOptions(withConnectionOptions(cmd));
}
