// Rate limits (429 with Retry-After, per token for submissions, per address for auth failures)
// and the body size limit (413), in both the v1 and the legacy error shapes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, tokenHeaders, type TestApp } from '../helpers/app.ts';

const task = { kind: 'shell', spec: { command: 'true' } };

describe('submission rate limit per token', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp({ rateLimitSubmitMax: 3 })));
  after(() => t.close());

  it('answers 429 with Retry-After past the limit, per token, in both shapes', async () => {
    const mine = await tokenHeaders(t, 'client');
    const submit = (headers: Record<string, string>) =>
      t.app.inject({ method: 'POST', url: '/v1/tasks', headers, payload: task });
    for (let i = 0; i < 3; i++) assert.equal((await submit(mine)).statusCode, 201);
    const limited = await submit(mine);
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After in seconds');
    const body = limited.json<{ error: { code: string; message: string } }>();
    assert.equal(body.error.code, 'rate_limited');
    assert.match(body.error.message, /at most 3 per 60 s; retry in/);
    // The legacy create route shares the token's budget and answers in the legacy shape.
    const legacy = await t.app.inject({
      method: 'POST',
      url: '/tasks',
      headers: mine,
      payload: { command: 'true' },
    });
    assert.equal(legacy.statusCode, 429);
    assert.equal(typeof legacy.json<{ error: unknown }>().error, 'string');
    // Another token has its own budget; reads are not limited.
    assert.equal((await submit(await tokenHeaders(t, 'client'))).statusCode, 201);
    const read = await t.app.inject({ method: 'GET', url: '/v1/tasks', headers: mine });
    assert.equal(read.statusCode, 200);
  });
});

describe('auth failure rate limit per address', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp({ rateLimitAuthFailMax: 2 })));
  after(() => t.close());

  it('answers 429 after too many failures, but never slows a valid token', async () => {
    const wrong = bearer('wrong-token-0123456789');
    const list = (url: string, headers: Record<string, string>) =>
      t.app.inject({ method: 'GET', url, headers });
    assert.equal((await list('/v1/tasks', wrong)).statusCode, 401);
    assert.equal((await list('/v1/tasks', {})).statusCode, 401);
    const limited = await list('/v1/tasks', wrong);
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.match(limited.json<{ error: { message: string } }>().error.message, /failed auth/);
    const legacy = await list('/tasks/stats', wrong);
    assert.equal(legacy.statusCode, 429);
    assert.match(legacy.json<{ error: string }>().error, /Too many failed authentications/);
    const enroll = await t.app.inject({
      method: 'POST',
      url: '/v1/enroll',
      payload: { code: 'opc_guess' },
    });
    assert.equal(enroll.statusCode, 429, 'wrong enrolment codes count too');
    assert.equal((await list('/v1/tasks', t.admin)).statusCode, 200);
  });
});

describe('body size limit', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp({ maxBodyBytes: 1024 })));
  after(() => t.close());

  it('answers 413 with a clear body in both shapes', async () => {
    const big = { kind: 'shell', spec: { command: `echo ${'x'.repeat(2000)}` } };
    const v1 = await t.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: t.admin,
      payload: big,
    });
    assert.equal(v1.statusCode, 413);
    const body = v1.json<{ error: { code: string; message: string } }>();
    assert.equal(body.error.code, 'payload_too_large');
    assert.match(body.error.message, /limit of 1024 bytes/);
    const legacy = await t.app.inject({
      method: 'POST',
      url: '/tasks',
      headers: t.admin,
      payload: { command: `echo ${'x'.repeat(2000)}` },
    });
    assert.equal(legacy.statusCode, 413);
    assert.match(legacy.json<{ error: string }>().error, /larger than the server's limit/);
  });
});
