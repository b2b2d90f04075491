// Rotation (the old secret dies at once, even though lookups are cached) and one-time enrolment
// codes (exchanged once, before they expire, for a runner token bound to the code's runner).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.ts';

describe('token rotation', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp()));
  after(() => t.close());

  it('gives a new secret and kills the old one at once', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: t.admin,
      payload: { name: 'ci', role: 'client' },
    });
    const { secret, token } = created.json<{ secret: string; token: { id: string } }>();
    const list = (s: string) =>
      t.app.inject({ method: 'GET', url: '/v1/tasks', headers: bearer(s) });
    assert.equal((await list(secret)).statusCode, 200); // now cached by the authenticator
    const rotated = await t.app.inject({
      method: 'POST',
      url: `/v1/tokens/${token.id}/rotate`,
      headers: t.admin,
    });
    assert.equal(rotated.statusCode, 200, rotated.body);
    const fresh = rotated.json<{ secret: string; token: { id: string; name: string } }>();
    assert.equal(fresh.token.id, token.id);
    assert.notEqual(fresh.secret, secret);
    assert.equal((await list(secret)).statusCode, 401);
    assert.equal((await list(fresh.secret)).statusCode, 200);
    const tokens = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: t.admin });
    const info = tokens.json<{ tokens: { id: string; lastUsedAt?: number }[] }>().tokens;
    assert.ok(info.find((x) => x.id === token.id)?.lastUsedAt, 'last use is recorded');
  });

  it('answers 404 for an unknown token', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens/nope/rotate',
      headers: t.admin,
    });
    assert.equal(res.statusCode, 404);
  });
});

describe('enrolment codes', () => {
  let t: TestApp;
  let now = Date.now();
  before(async () => (t = await buildTestApp({}, { now: () => now })));
  after(() => t.close());

  const makeCode = async (runner: string, ttlMs?: number) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/enrollments',
      headers: t.admin,
      payload: { runner, ...(ttlMs ? { ttlMs } : {}) },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ code: string; expiresAt: number }>();
  };
  const enroll = (code: string) =>
    t.app.inject({ method: 'POST', url: '/v1/enroll', payload: { code } });

  it('exchanges a code once for a token bound to its runner', async () => {
    const { code, expiresAt } = await makeCode('laptop');
    assert.equal(expiresAt, now + 15 * 60_000);
    const res = await enroll(code);
    assert.equal(res.statusCode, 201, res.body);
    const { secret, token } = res.json<{
      secret: string;
      token: { role: string; runner: string };
    }>();
    assert.equal(token.role, 'runner');
    assert.equal(token.runner, 'laptop');
    const hello = (name: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/runner/hello',
        headers: bearer(secret),
        payload: { name, instanceId: 'i', capacity: 1, kinds: [], version: 'v' },
      });
    assert.equal((await hello('laptop')).statusCode, 200);
    assert.equal((await hello('server')).statusCode, 403);
    const again = await enroll(code);
    assert.equal(again.statusCode, 400);
    assert.match(again.json<{ error: { message: string } }>().error.message, /already used/);
  });

  it('refuses an expired code and an unknown one', async () => {
    const { code } = await makeCode('desk', 60_000);
    now += 60_000;
    const expired = await enroll(code);
    assert.equal(expired.statusCode, 400);
    assert.match(expired.body, /expired/);
    const unknown = await enroll('opc_not-a-code');
    assert.equal(unknown.statusCode, 401);
    assert.match(unknown.body, /Unknown enrolment code/);
  });

  it('needs an admin to make codes', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/enrollments',
      payload: { runner: 'x' },
    });
    assert.equal(res.statusCode, 401);
  });
});
