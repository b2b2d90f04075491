// A runner token bound to one name reports only on attempts its runner holds, and reads no tasks.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, tokenHeaders, type TestApp } from '../helpers/app.ts';

describe('runner tokens bound to a name', () => {
  let t: TestApp;
  let asA: Record<string, string>;
  let asB: Record<string, string>;
  let claim: { task: { id: string }; leaseToken: string };

  before(async () => {
    t = await buildTestApp();
    asA = await tokenHeaders(t, 'runner', 'a');
    asB = await tokenHeaders(t, 'runner', 'b');
    await t.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: t.admin,
      payload: { kind: 'shell', spec: { command: 'true' }, target: { runner: 'a' } },
    });
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/runner/claim',
      headers: asA,
      payload: { runner: 'a', max: 1 },
    });
    claim = res.json<{ tasks: (typeof claim)[] }>().tasks[0]!;
    assert.ok(claim, res.body);
  });
  after(() => t.close());

  const lease = () => ({ taskId: claim.task.id, leaseToken: claim.leaseToken });

  it('refuses logs from a token bound to another runner', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/runner/logs',
      headers: asB,
      payload: { ...lease(), chunks: [{ seq: 1, stream: 'stdout', data: 'x' }] },
    });
    assert.equal(res.statusCode, 403);
    assert.match(res.json<{ error: { message: string } }>().error.message, /held by runner 'a'/);
  });

  it('refuses finish from a token bound to another runner, then takes the holder’s', async () => {
    const payload = { ...lease(), outcome: { status: 'succeeded' } };
    const refused = await t.app.inject({
      method: 'POST',
      url: '/v1/runner/finish',
      headers: asB,
      payload,
    });
    assert.equal(refused.statusCode, 403);
    assert.match(refused.body, /belongs to runner 'b'/);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/v1/runner/finish',
      headers: asA,
      payload,
    });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it('refuses the legacy result from a token bound to another runner', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/worker/result',
      headers: asB,
      payload: { taskId: claim.task.id, success: true },
    });
    // The attempt has ended, so there is no lease to hold: the usual legacy answer, not a 5xx.
    assert.ok([403, 404, 409].includes(res.statusCode), res.body);
  });

  it('cannot pose as another runner or read tasks', async () => {
    const hello = { name: 'b', instanceId: 'i', capacity: 1, kinds: [], version: 'v' };
    const posed = await t.app.inject({
      method: 'POST',
      url: '/v1/runner/hello',
      headers: asA,
      payload: hello,
    });
    assert.equal(posed.statusCode, 403);
    for (const url of [
      '/v1/tasks',
      `/v1/tasks/${claim.task.id}`,
      `/v1/tasks/${claim.task.id}/logs`,
    ]) {
      const res = await t.app.inject({ method: 'GET', url, headers: asA });
      assert.equal(res.statusCode, 403, url);
    }
  });
});
