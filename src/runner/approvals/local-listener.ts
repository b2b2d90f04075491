// Local approvals: a small HTTP listener on 127.0.0.1 that `outpost runner approve|reject|approvals`
// talk to. Its address and a random secret are written to <dataDir>/approvals.json (mode 0600, in
// the 0700 data directory no task can reach), so only the runner's user can decide.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PendingApprovals } from './pending-approvals.ts';

export const APPROVALS_FILE = 'approvals.json';

/** What approvals.json holds: where the listener is and the secret it wants. */
export interface ApprovalEndpoint {
  url: string;
  secret: string;
  pid: number;
}

export interface LocalListener {
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024;
const USER = /^[A-Za-z0-9._@-]{1,64}$/;
const ROUTE = /^\/approvals\/([A-Za-z0-9._:-]{1,128})\/(approve|reject)$/;

/**
 * Starts the listener and writes approvals.json; close() stops it and removes the file.
 * @example const listener = await startLocalListener(dataDir, pending);
 */
export async function startLocalListener(
  dataDir: string,
  pending: PendingApprovals,
): Promise<LocalListener> {
  const secret = randomBytes(24).toString('base64url');
  const server = createServer((req, res) => {
    handle(req, res, secret, pending).catch(() => send(res, 500, error('internal', 'failed')));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const path = join(dataDir, APPROVALS_FILE);
  writeEndpoint(dataDir, path, { url: `http://127.0.0.1:${port}`, secret, pid: process.pid });
  return {
    close: async () => {
      rmSync(path, { force: true });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function writeEndpoint(dataDir: string, path: string, endpoint: ApprovalEndpoint): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Written beside and renamed: a reader never sees half a file, and the mode holds from the start.
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(endpoint)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  secret: string,
  pending: PendingApprovals,
): Promise<void> {
  if (!authorised(req.headers.authorization, secret)) {
    return send(res, 401, error('unauthorized', 'wrong or missing secret (see approvals.json)'));
  }
  if (req.method === 'GET' && req.url === '/approvals') {
    return send(res, 200, { approvals: pending.list() });
  }
  const match = req.method === 'POST' ? ROUTE.exec(req.url ?? '') : null;
  if (!match) return send(res, 404, error('not_found', `no route ${req.method} ${req.url}`));
  const body = await readBody(req);
  if (body === undefined || typeof body.user !== 'string' || !USER.test(body.user)) {
    return send(
      res,
      400,
      error('bad_request', 'user: must be a user name (1-64 of A-Z a-z 0-9 . _ @ -)'),
    );
  }
  if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > 1000)) {
    return send(
      res,
      400,
      error('bad_request', 'reason: must be a string of at most 1000 characters'),
    );
  }
  const [, taskId, verb] = match as unknown as [string, string, 'approve' | 'reject'];
  const held = pending.get(taskId);
  const decided = pending.decide(taskId, {
    decision: verb === 'approve' ? 'approved' : 'rejected',
    by: `local user ${body.user}`,
    source: 'local',
    at: Date.now(),
    ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
  });
  if (!decided || held === undefined) {
    return send(res, 404, error('not_found', `task ${taskId} is not held for approval here`));
  }
  return send(res, 200, { task: held });
}

function authorised(header: string | undefined, secret: string): boolean {
  const given = Buffer.from(header ?? '');
  const wanted = Buffer.from(`Bearer ${secret}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > MAX_BODY) return undefined;
  }
  try {
    const value: unknown = JSON.parse(text === '' ? '{}' : text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function error(code: string, message: string) {
  return { error: { code, message } };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
