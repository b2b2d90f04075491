// POST /v1/runner/turn-session through the real app (no CLI, no runner): a running turn's provider
// session id is on its session at once, fenced by the lease token like a finish; a task with no
// session to keep answers recorded:false; the id is checked as the argv element it will become.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, tokenHeaders, type TestApp } from '../helpers/app.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Task } from '../../src/protocol/tasks.ts';
import type { SessionList } from '../../src/protocol/agents.ts';

describe('POST /v1/runner/turn-session', () => {
  let t: TestApp;
  /** A token that may act only as runner r1, the runner that claims every task here. */
  let runner: Record<string, string>;
  before(async () => {
    t = await buildTestApp();
    runner = await tokenHeaders(t, 'runner', 'r1');
  });
  after(() => t.close());

  const post = (url: string, payload: object, headers = t.admin) =>
    t.app.inject({ method: 'POST', url, payload, headers });
  const submit = async (body: object): Promise<Task> => {
    const res = await post('/v1/tasks', body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Task>();
  };
  const claim = async (): Promise<Claim> => {
    const res = await post('/v1/runner/claim', { runner: 'r1', max: 1 }, runner);
    const [claimed] = res.json<{ tasks: Claim[] }>().tasks;
    assert.ok(claimed, res.body);
    return claimed;
  };
  const report = (c: Claim, providerSessionId: string, leaseToken = c.leaseToken) =>
    post('/v1/runner/turn-session', { taskId: c.task.id, leaseToken, providerSessionId }, runner);
  const providerOf = async (key: string) => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/sessions/${key}?agent=claude`,
      headers: t.admin,
    });
    return res.json<SessionList>().sessions[0]?.providerSessionId;
  };
  const turn = (sessionKey?: string) =>
    submit({ kind: 'agent', spec: { agent: 'claude', prompt: 'hi' }, sessionKey });

  it("records a running turn's id on its session before the turn ends", async () => {
    await turn('ts-1');
    const c = await claim();
    assert.equal(await providerOf('ts-1'), undefined);
    const res = await report(c, 'sess-early-1');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { recorded: true });
    assert.equal(await providerOf('ts-1'), 'sess-early-1');
    const state = await t.app.inject({ url: `/v1/tasks/${c.task.id}`, headers: t.admin });
    assert.equal(state.json<Task>().state, 'running');
  });

  it('answers 409 lease_lost under a stale token and once the turn has finished', async () => {
    await turn('ts-2');
    const c = await claim();
    const stale = await report(c, 'sess-stale', 'not-the-lease-token');
    assert.equal(stale.statusCode, 409, stale.body);
    assert.equal(stale.json<{ error: { code: string } }>().error.code, 'lease_lost');
    const output = { agent: 'claude', text: 'ok', sessionId: 'sess-final', resumed: false };
    const outcome = { status: 'succeeded', stdout: 'ok', output };
    const finished = await post(
      '/v1/runner/finish',
      { taskId: c.task.id, leaseToken: c.leaseToken, outcome },
      runner,
    );
    assert.equal(finished.statusCode, 200, finished.body);
    const late = await report(c, 'sess-late');
    assert.equal(late.statusCode, 409, late.body);
    assert.equal(await providerOf('ts-2'), 'sess-final', 'a late report changes nothing');
  });

  it('answers recorded:false for a turn without a session key and for a shell task', async () => {
    await turn();
    const loose = await report(await claim(), 'sess-loose');
    assert.equal(loose.statusCode, 200, loose.body);
    assert.deepEqual(loose.json(), { recorded: false });
    await submit({ kind: 'shell', spec: { command: 'true' }, sessionKey: 'ts-3' });
    const shell = await report(await claim(), 'sess-shell');
    assert.deepEqual(shell.json(), { recorded: false });
  });

  it('refuses an id that could pass for a command-line option, and unknown fields', async () => {
    await turn('ts-4');
    const c = await claim();
    const flag = await report(c, '--dangerously-skip-permissions');
    assert.equal(flag.statusCode, 400, flag.body);
    const extra = await post(
      '/v1/runner/turn-session',
      { taskId: c.task.id, leaseToken: c.leaseToken, providerSessionId: 'ok-id', runner: 'r2' },
      runner,
    );
    assert.equal(extra.statusCode, 400, extra.body);
    assert.equal(await providerOf('ts-4'), undefined);
  });
});
