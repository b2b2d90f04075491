// Starts the real server (SQLite in a temp dir, real HTTP on 127.0.0.1) for integration tests.
// Every test that needs a server uses this; close() stops it and removes the directory.
// startRawServer is a bare node:http server for answers the real one never gives (HTML, 500s).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type AppOptions, type OutpostApp } from '../../src/server/create-app.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { RETENTION_DEFAULTS } from './retention.ts';

export const TEST_TOKEN = 'test-token-0123456789';

export interface TestServer {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** The all-roles (admin) token. */
  token: string;
  app: OutpostApp;
  store: SqliteStore;
  /** The temp directory holding the database; removed by close(). */
  dir: string;
  close(): Promise<void>;
}

/** Short defaults so lease expiry and heartbeats happen within a test's time budget. */
const DEFAULT_OPTIONS: AppOptions = {
  token: TEST_TOKEN,
  leaseMs: 2_000,
  heartbeatMs: 300,
  legacyLeaseMarginMs: 5_000,
  reapIntervalMs: 200,
  maxBodyBytes: 5 * 1024 * 1024,
  logLevel: 'silent',
  ...RETENTION_DEFAULTS,
  // Tests send wrong tokens on purpose; the limits have their own test.
  rateLimitAuthFailMax: 100_000,
};

/**
 * Opens a fresh SQLite store, builds the app over it and listens on an ephemeral loopback port.
 * @example const server = await startTestServer({ leaseMs: 1000 }); t.after(() => server.close());
 */
export async function startTestServer(opts: Partial<AppOptions> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-test-'));
  const store = openSqliteStore(join(dir, 'outpost.db'));
  const options = { ...DEFAULT_OPTIONS, ...opts };
  const app = await createApp({ store, options });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const close = async (): Promise<void> => {
    await app.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
  return {
    url: address.replace(/\/$/, ''),
    token: options.token ?? TEST_TOKEN,
    app,
    store,
    dir,
    close,
  };
}

export interface RawServer {
  url: string;
  /** Requests received so far, as "METHOD /path". */
  requests: string[];
  close(): Promise<void>;
}

export type RawHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/**
 * A plain node:http server answering every request with `handler` (after reading the body).
 * @example const raw = await startRawServer((req, res) => res.writeHead(502).end('<html>Bad Gateway</html>'));
 */
export async function startRawServer(handler: RawHandler): Promise<RawServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { url: `http://127.0.0.1:${port}`, requests, close };
}
