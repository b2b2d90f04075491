// Builds the real app over a real SQLite file for `inject()` tests (no port).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { createApp, type AppOptions, type OutpostApp } from '../../src/server/create-app.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Clock } from '../../src/lib/clock.ts';
import { RETENTION_DEFAULTS } from './retention.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestApp {
  app: OutpostApp;
  store: SqliteStore;
  /** Bearer headers for the all-roles token. */
  admin: Record<string, string>;
  /** POST `payload` (default `{}`) to `url` as the all-roles token, through inject. */
  post(url: string, payload?: unknown): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** The options every test app starts from: the admin token, default timings, no logging. */
export function testAppOptions(): AppOptions {
  return {
    token: ADMIN_TOKEN,
    leaseMs: 30_000,
    heartbeatMs: 10_000,
    legacyLeaseMarginMs: 30_000,
    reapIntervalMs: 1_000,
    maxBodyBytes: 5 * 1024 * 1024,
    logLevel: 'silent',
    ...RETENTION_DEFAULTS,
    // Tests send wrong tokens on purpose; the limits have their own test.
    rateLimitAuthFailMax: 100_000,
  };
}

/** `clock` lets a test move time (retention, lease expiry) without waiting. */
export async function buildTestApp(
  options: Partial<AppOptions> = {},
  clock?: Clock,
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-app-'));
  const t = await buildAppOn(join(dir, 'outpost.db'), options, clock);
  return {
    ...t,
    close: async () => {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An app on a given SQLite file, which the test owns: several apps on one file stand for several
 * servers on one database, and closing one and opening another for a restart.
 */
export async function buildAppOn(
  path: string,
  options: Partial<AppOptions> = {},
  clock?: Clock,
): Promise<TestApp> {
  const store = openSqliteStore(path);
  const app = await createApp({
    store,
    ...(clock ? { clock } : {}),
    options: { ...testAppOptions(), ...options },
  });
  await app.ready();
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  return {
    app,
    store,
    admin,
    post: (url, payload = {}) =>
      app.inject({ method: 'POST', url, payload: payload as object, headers: admin }),
    close: async () => {
      await app.close();
      await store.close();
    },
  };
}

export const bearer = (secret: string): Record<string, string> => ({
  authorization: `Bearer ${secret}`,
});

/** Creates a scoped token through the admin API and returns bearer headers for it. */
export async function tokenHeaders(
  t: TestApp,
  role: 'client' | 'runner' | 'admin',
  runner?: string,
) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: t.admin,
    payload: {
      name: `${role}-${Math.random().toString(36).slice(2)}`,
      role,
      ...(runner ? { runner } : {}),
    },
  });
  if (res.statusCode !== 201) throw new Error(`token create failed: ${res.body}`);
  return bearer(res.json<{ secret: string }>().secret);
}
