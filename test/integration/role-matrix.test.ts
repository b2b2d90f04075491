// Every registered route × every kind of caller: no token, a client token, a runner token bound to
// another runner, a revoked token and admin. Routes come from the app itself (an onRoute hook), so
// a new route without an entry in ROUTES fails here until someone decides who may call it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, tokenHeaders, type TestApp } from '../helpers/app.ts';

type Access = 'public' | 'client' | 'runner' | 'admin';
interface Entry {
  access: Access;
  /** A concrete URL for a parametric route. */
  url?: string;
  payload?: () => object;
  /** What a runner token bound to another runner gets on a runner route. */
  otherRunner?: 'forbidden' | 'allowed';
}

let lease = { taskId: 'x', leaseToken: 'y' };
const hello = { name: 'r', instanceId: 'i', capacity: 1, kinds: [], version: 'v' };
const chunk = { seq: 1, stream: 'stdout', data: 'x' };

const ROUTES: Record<string, Entry> = {
  'GET /health': { access: 'public' },
  'GET /ready': { access: 'public' },
  'POST /v1/enroll': { access: 'public', payload: () => ({ code: 'opc_unknown' }) },
  'POST /v1/tasks': {
    access: 'client',
    payload: () => ({ kind: 'shell', spec: { command: 'true' } }),
  },
  'GET /v1/tasks': { access: 'client' },
  'GET /v1/tasks/:id': { access: 'client', url: '/v1/tasks/x' },
  'POST /v1/tasks/:id/cancel': { access: 'client', url: '/v1/tasks/x/cancel' },
  'POST /v1/tasks/:id/approve': {
    access: 'client',
    url: '/v1/tasks/x/approve',
    payload: () => ({}),
  },
  'POST /v1/tasks/:id/reject': { access: 'client', url: '/v1/tasks/x/reject', payload: () => ({}) },
  'GET /v1/tasks/:id/logs': { access: 'client', url: '/v1/tasks/x/logs' },
  'GET /v1/tasks/:id/events': { access: 'client', url: '/v1/tasks/x/events' },
  'GET /v1/events': { access: 'client' },
  'POST /v1/schedules': {
    access: 'client',
    payload: () => ({ cron: '0 3 * * *', task: { kind: 'shell', spec: { command: 'true' } } }),
  },
  'GET /v1/schedules': { access: 'client' },
  'GET /v1/schedules/:id': { access: 'client', url: '/v1/schedules/x' },
  'DELETE /v1/schedules/:id': { access: 'client', url: '/v1/schedules/x' },
  'GET /v1/sessions': { access: 'client' },
  'GET /v1/sessions/:key': { access: 'client', url: '/v1/sessions/k' },
  'POST /v1/sessions/:key/reset': { access: 'client', url: '/v1/sessions/k/reset' },
  'POST /v1/sessions/:key/resume': { access: 'client', url: '/v1/sessions/k/resume' },
  'GET /v1/runners/:name/agent-sessions': { access: 'client', url: '/v1/runners/r/agent-sessions' },
  'POST /v1/runner/hello': { access: 'runner', payload: () => hello, otherRunner: 'forbidden' },
  'POST /v1/runner/claim': {
    access: 'runner',
    payload: () => ({ runner: 'r', max: 1 }),
    otherRunner: 'forbidden',
  },
  'POST /v1/runner/heartbeat': {
    access: 'runner',
    payload: () => ({ runner: 'r', leases: [] }),
    otherRunner: 'forbidden',
  },
  'POST /v1/runner/finish': {
    access: 'runner',
    payload: () => ({ ...lease, outcome: { status: 'succeeded' } }),
    otherRunner: 'forbidden',
  },
  'POST /v1/runner/turn-session': {
    access: 'runner',
    payload: () => ({ ...lease, providerSessionId: 'sess-1' }),
    otherRunner: 'forbidden',
  },
  'POST /v1/runner/hold': {
    access: 'runner',
    payload: () => ({ ...lease, reason: 'needs a person', rule: 'r', expiresAt: 1 }),
    otherRunner: 'forbidden',
  },
  'POST /v1/runner/resume': {
    access: 'runner',
    payload: () => ({
      ...lease,
      decision: { decision: 'approved', by: 'me', at: 1, source: 'local' },
    }),
    otherRunner: 'forbidden',
  },
  'POST /v1/runner/logs': {
    access: 'runner',
    payload: () => ({ ...lease, chunks: [chunk] }),
    otherRunner: 'forbidden',
  },
  'POST /v1/runner/agent-sessions': {
    access: 'runner',
    payload: () => ({ runner: 'r', agent: 'claude', sessions: [] }),
    otherRunner: 'forbidden',
  },
  'POST /v1/tokens': {
    access: 'admin',
    payload: () => ({ name: `n${Math.random()}`, role: 'client' }),
  },
  'GET /v1/tokens': { access: 'admin' },
  'DELETE /v1/tokens/:id': { access: 'admin', url: '/v1/tokens/none' },
  'POST /v1/tokens/:id/rotate': { access: 'admin', url: '/v1/tokens/none/rotate' },
  'POST /v1/enrollments': { access: 'admin', payload: () => ({ runner: 'r' }) },
  'GET /v1/runners': { access: 'admin' },
  'GET /v1/stats': { access: 'admin' },
  'POST /v1/maintenance': { access: 'admin', payload: () => ({}) },
  'POST /tasks': { access: 'client', payload: () => ({ command: 'true' }) },
  'GET /tasks/stats': { access: 'client' },
  'GET /tasks/:id': { access: 'client', url: '/tasks/x' },
  'POST /files/read': { access: 'client', payload: () => ({ path: 'a' }) },
  'POST /files/write': { access: 'client', payload: () => ({ path: 'a', content: '' }) },
  'POST /files/edit': {
    access: 'client',
    payload: () => ({ path: 'a', old_string: 'x', new_string: 'y' }),
  },
  'GET /events': { access: 'client' },
  'GET /events/stats': { access: 'client' },
  'POST /events/maintenance': { access: 'admin', payload: () => ({}) },
  'POST /notify': { access: 'client', payload: () => ({}) },
  'POST /claude': { access: 'client', payload: () => ({ prompt: 'hi' }) },
  'POST /codex': { access: 'client', payload: () => ({ prompt: 'hi' }) },
  'POST /gemini': { access: 'client', payload: () => ({ prompt: 'hi' }) },
  'GET /claude/sessions': { access: 'client' },
  'GET /claude/recent': { access: 'client' },
  'GET /codex/recent': { access: 'client' },
  'GET /sessions/stats': { access: 'client' },
  'GET /sessions/state': { access: 'client' },
  // A legacy poller has no name; a bound token lends its own, so it may poll and log events.
  'GET /worker/poll': { access: 'runner', url: '/worker/poll?wait=0', otherRunner: 'allowed' },
  'POST /worker/result': {
    access: 'runner',
    payload: () => ({ taskId: lease.taskId, success: true }),
    otherRunner: 'forbidden',
  },
  'POST /worker/event': {
    access: 'runner',
    payload: () => ({ type: 'callback.sent' }),
    otherRunner: 'allowed',
  },
};

type Caller = 'none' | 'client' | 'other-runner' | 'revoked' | 'admin';

describe('role matrix: every route × every caller', () => {
  let t: TestApp;
  const headers = {} as Record<Caller, Record<string, string>>;
  let routes: { key: string; entry: Entry; access: string }[];

  before(async () => {
    t = await buildTestApp();
    headers.none = {};
    headers.client = await tokenHeaders(t, 'client');
    headers['other-runner'] = await tokenHeaders(t, 'runner', 'other');
    headers.admin = t.admin;
    const revoked = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: t.admin,
      payload: { name: 'revoked', role: 'admin' },
    });
    headers.revoked = bearer(revoked.json<{ secret: string }>().secret);
    await t.app.inject({ method: 'DELETE', url: '/v1/tokens/revoked', headers: t.admin });
    // A live lease held by runner 'r', so finish and logs have a holder to compare against.
    await t.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: t.admin,
      payload: { kind: 'shell', spec: { command: 'true' }, target: { runner: 'r' } },
    });
    const claim = await t.app.inject({
      method: 'POST',
      url: '/v1/runner/claim',
      headers: await tokenHeaders(t, 'runner', 'r'),
      payload: { runner: 'r', max: 1 },
    });
    const claimed = claim.json<{ tasks: { task: { id: string }; leaseToken: string }[] }>();
    lease = { taskId: claimed.tasks[0]!.task.id, leaseToken: claimed.tasks[0]!.leaseToken };
    routes = t.app.routeTable
      .filter((r) => r.method !== 'HEAD' && !r.url.startsWith('/docs'))
      .map((r) => ({
        key: `${r.method} ${r.url}`,
        entry: ROUTES[`${r.method} ${r.url}`]!,
        access: r.access,
      }));
  });
  after(() => t.close());

  const call = (key: string, entry: Entry, caller: Caller) => {
    const [method, url] = key.split(' ') as ['GET' | 'POST' | 'DELETE', string];
    const payload = entry.payload?.();
    return t.app.inject({
      method,
      url: entry.url ?? url,
      headers: headers[caller],
      ...(payload ? { payload } : {}),
    });
  };

  it('has an entry for every registered route, with the access the route declares', () => {
    const missing = routes.filter((r) => !r.entry).map((r) => r.key);
    assert.deepEqual(missing, [], 'new routes need a ROUTES entry in role-matrix.test.ts');
    for (const r of routes) assert.equal(r.access, r.entry.access, `${r.key} access changed`);
    const stale = Object.keys(ROUTES).filter((k) => !routes.some((r) => r.key === k));
    assert.deepEqual(stale, [], 'ROUTES lists routes the app no longer has');
  });

  // First, while the lease is live: a runner token bound to another name.
  it('a runner token bound to another runner gets only what the table allows', async () => {
    for (const { key, entry } of routes) {
      const res = await call(key, entry, 'other-runner');
      // Public routes ignore tokens (a bad enrolment code is 401 for everyone): never a 403.
      if (entry.access === 'public') {
        assert.notEqual(res.statusCode, 403, key);
        continue;
      }
      const allowed = entry.access === 'runner' && entry.otherRunner === 'allowed';
      if (allowed)
        assert.ok(![401, 403].includes(res.statusCode), `${key}: ${res.statusCode} ${res.body}`);
      else assert.equal(res.statusCode, 403, `${key}: ${res.body}`);
    }
  });

  for (const caller of ['none', 'revoked', 'client', 'admin'] as const) {
    it(`${caller}: the right answer on every route`, async () => {
      for (const { key, entry } of routes) {
        const res = await call(key, entry, caller);
        const legacy = !key.split(' ')[1]!.startsWith('/v1/') && entry.access !== 'public';
        if (entry.access === 'public') {
          assert.notEqual(res.statusCode, 403, key);
          continue;
        }
        if (caller === 'none' || caller === 'revoked') {
          assert.equal(res.statusCode, 401, `${key}: ${res.body}`);
        } else if (caller === 'admin' || entry.access === caller) {
          assert.ok(![401, 403].includes(res.statusCode), `${key}: ${res.statusCode} ${res.body}`);
        } else {
          assert.equal(res.statusCode, 403, `${key}: ${res.body}`);
        }
        if (res.statusCode === 401 || res.statusCode === 403) {
          const error = res.json<{ error: unknown }>().error;
          assert.equal(typeof error, legacy ? 'string' : 'object', `${key} error shape`);
        }
      }
    });
  }
});
