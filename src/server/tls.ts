// HTTPS for `outpost serve` from PEM files, for servers not behind a TLS-terminating proxy.
import { readFileSync } from 'node:fs';
import { AppError } from '../protocol/errors.ts';
import type { TlsConfig } from './limits-config.ts';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** Reads both files at start, so a wrong path stops start-up with one clear message. */
export function readTlsFiles(config: TlsConfig): TlsFiles | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  return { cert: readPem('--tls-cert', config.tlsCert), key: readPem('--tls-key', config.tlsKey) };
}

function readPem(label: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AppError('bad_request', `${label}: cannot read ${path}: ${(err as Error).message}`);
  }
}
