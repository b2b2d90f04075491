// Where client commands find the server and their token: flags, then env (OUTPOST_* and the
// legacy WORKER_*), then the credentials file `outpost up` writes, then the local default URL.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../protocol/errors.ts';

export interface ConnectionFlags {
  url?: string;
  token?: string;
}

export interface Connection {
  baseUrl: string;
  token: string;
}

export const DEFAULT_URL = 'http://127.0.0.1:3456';

export function credentialsPath(env: NodeJS.ProcessEnv): string {
  return join(env.OUTPOST_DATA_DIR ?? join(homedir(), '.outpost'), 'credentials.json');
}

/** Adds --url and --token to a client command. */
export function withConnectionOptions(cmd: Command): Command {
  return cmd
    .option(
      '--url <url>',
      'server URL (env OUTPOST_URL; default: the one `outpost up` saved, else ' + DEFAULT_URL + ')',
    )
    .option(
      '--token <token>',
      'client token (env OUTPOST_TOKEN; default: the one `outpost up` saved)',
    );
}

export function loadConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv = process.env,
): Connection {
  const saved = readCredentials(credentialsPath(env));
  const baseUrl = flags.url ?? env.OUTPOST_URL ?? env.WORKER_URL ?? saved.url ?? DEFAULT_URL;
  const token = flags.token ?? env.OUTPOST_TOKEN ?? env.WORKER_TOKEN ?? saved.token;
  if (!URL.canParse(baseUrl) || !/^https?:/.test(baseUrl)) {
    throw new AppError('bad_request', `--url: not an http(s) URL: ${baseUrl}`);
  }
  if (!token) {
    throw new AppError(
      'bad_request',
      'No token: pass --token or set OUTPOST_TOKEN (`outpost up` prints one).',
    );
  }
  return { baseUrl, token };
}

function readCredentials(path: string): { url?: string; token?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  try {
    const value = JSON.parse(text) as { url?: unknown; token?: unknown };
    return {
      url: typeof value.url === 'string' ? value.url : undefined,
      token: typeof value.token === 'string' ? value.token : undefined,
    };
  } catch {
    throw new AppError('bad_request', `${path} is not valid JSON; fix or delete it`);
  }
}
