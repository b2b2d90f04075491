// Every route's access rule: no token or a wrong token → 401; the wrong role → 403; the right
// role (or admin) gets through. Legacy routes answer in the legacy error shape.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, tokenHeaders, type TestApp } from '../helpers/app.ts';

type Role = 'client' | 'runner' | 'admin';
interface RouteCase {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  role: Role;
  payload?: object;
  legacy?: boolean;
}

const ROUTES: RouteCase[] = [
  {
    method: 'POST',
    url: '/v1/tasks',
    role: 'client',
    payload: { kind: 'shell', spec: { command: 'true' } },
  },
  { method: 'GET', url: '/v1/tasks/x', role: 'client' },
  { method: 'GET', url: '/v1/tasks', role: 'client' },
  { method: 'POST', url: '/v1/tasks/x/cancel', role: 'client' },
  {
    method: 'POST',
    url: '/v1/runner/hello',
    role: 'runner',
    payload: { name: 'r', instanceId: 'i', capacity: 1, kinds: [], version: 'v' },
  },
  { method: 'POST', url: '/v1/runner/claim', role: 'runner', payload: { runner: 'r', max: 1 } },
  {
    method: 'POST',
    url: '/v1/runner/heartbeat',
    role: 'runner',
    payload: { runner: 'r', leases: [] },
  },
  {
    method: 'POST',
    url: '/v1/runner/finish',
    role: 'runner',
    payload: { taskId: 'x', leaseToken: 'y', outcome: { status: 'succeeded' } },
  },
  {
    method: 'POST',
    url: '/v1/runner/turn-session',
    role: 'runner',
    payload: { taskId: 'x', leaseToken: 'y', providerSessionId: 'z' },
  },
  { method: 'POST', url: '/v1/tokens', role: 'admin', payload: { name: 'n', role: 'client' } },
  { method: 'GET', url: '/v1/tokens', role: 'admin' },
  { method: 'DELETE', url: '/v1/tokens/none', role: 'admin' },
  { method: 'GET', url: '/v1/runners', role: 'admin' },
  { method: 'GET', url: '/v1/stats', role: 'admin' },
  { method: 'GET', url: '/v1/events', role: 'client' },
  { method: 'POST', url: '/v1/maintenance', role: 'admin', payload: {} },
  { method: 'GET', url: '/events', role: 'client', legacy: true },
  { method: 'GET', url: '/events/stats', role: 'client', legacy: true },
  { method: 'POST', url: '/events/maintenance', role: 'admin', payload: {}, legacy: true },
  { method: 'POST', url: '/tasks', role: 'client', payload: { command: 'true' }, legacy: true },
  { method: 'GET', url: '/tasks/x', role: 'client', legacy: true },
  { method: 'GET', url: '/tasks/stats', role: 'client', legacy: true },
  { method: 'POST', url: '/files/read', role: 'client', payload: { path: 'a' }, legacy: true },
  {
    method: 'POST',
    url: '/files/write',
    role: 'client',
    payload: { path: 'a', content: '' },
    legacy: true,
  },
  {
    method: 'POST',
    url: '/files/edit',
    role: 'client',
    payload: { path: 'a', old_string: 'x', new_string: 'y' },
    legacy: true,
  },
  { method: 'GET', url: '/worker/poll?wait=1000', role: 'runner', legacy: true },
  { method: 'POST', url: '/worker/result', role: 'runner', payload: { taskId: 'x' }, legacy: true },
  { method: 'POST', url: '/worker/event', role: 'runner', payload: { type: 'x' }, legacy: true },
];

describe('access rules on every route', () => {
  let t: TestApp;
  const headers = {} as Record<Role, Record<string, string>>;
  before(async () => {
    t = await buildTestApp();
    for (const role of ['client', 'runner', 'admin'] as const)
      headers[role] = await tokenHeaders(t, role);
  });
  after(() => t.close());

  const call = (route: RouteCase, h: Record<string, string>) =>
    t.app.inject({
      method: route.method,
      url: route.url,
      headers: h,
      ...(route.payload ? { payload: route.payload } : {}),
    });

  for (const route of ROUTES) {
    it(`${route.method} ${route.url} needs a ${route.role} token`, async () => {
      for (const h of [{}, bearer('wrong-token-0123456789')]) {
        const res = await call(route, h);
        assert.equal(res.statusCode, 401);
        assert.deepEqual(
          res.json(),
          route.legacy
            ? { error: 'Unauthorized' }
            : { error: { code: 'unauthorized', message: 'Unauthorized' } },
        );
      }
      for (const role of ['client', 'runner', 'admin'] as const) {
        const res = await call(route, headers[role]);
        const allowed = role === route.role || role === 'admin';
        if (allowed)
          assert.ok(![401, 403].includes(res.statusCode), `${role}: ${res.statusCode} ${res.body}`);
        else assert.equal(res.statusCode, 403, `${role} must be refused`);
        if (!allowed && route.legacy)
          assert.equal(typeof res.json<{ error: unknown }>().error, 'string');
      }
    });
  }

  it('refuses a revoked token', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: t.admin,
      payload: { name: 'temp', role: 'client' },
    });
    const { secret, token } = created.json<{ secret: string; token: { id: string } }>();
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/v1/tasks', headers: bearer(secret) })).statusCode,
      200,
    );
    await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${token.id}`, headers: t.admin });
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/v1/tasks', headers: bearer(secret) })).statusCode,
      401,
    );
  });

  it('never returns token hashes or secrets in listings', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: t.admin });
    assert.doesNotMatch(res.body, /hash|secret/i);
  });
});
