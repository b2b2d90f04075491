// The approval routes on a real app: a runner holds its leased task, the task read shows why, a
// client records a decision the runner's next heartbeat carries, and the runner resumes it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, buildTestApp, tokenHeaders, type TestApp } from '../helpers/app.ts';

describe('approval routes', () => {
  let t: TestApp;
  let asRunner: Record<string, string>;
  let asClient: Record<string, string>;
  let lease: { taskId: string; leaseToken: string };

  const post = (url: string, headers: Record<string, string>, payload?: object) =>
    t.app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });

  before(async () => {
    t = await buildTestApp();
    asRunner = await tokenHeaders(t, 'runner', 'box');
    const alice = await post('/v1/tokens', t.admin, { name: 'alice', role: 'client' });
    asClient = bearer(alice.json<{ secret: string }>().secret);
    await post('/v1/tasks', asClient, { kind: 'shell', spec: { command: 'git push' } });
    const claim = await post('/v1/runner/claim', asRunner, { runner: 'box', max: 1 });
    const c = claim.json<{ tasks: { task: { id: string }; leaseToken: string }[] }>().tasks[0]!;
    lease = { taskId: c.task.id, leaseToken: c.leaseToken };
    await post('/v1/runner/heartbeat', asRunner, { runner: 'box', leases: [lease] });
  });
  after(() => t.close());

  it('refuses a decision on a task no runner holds (409) or an unknown one (404)', async () => {
    const early = await post(`/v1/tasks/${lease.taskId}/approve`, asClient, {});
    assert.equal(early.statusCode, 409, early.body);
    assert.match(early.json<{ error: { message: string } }>().error.message, /not held/);
    const unknown = await post('/v1/tasks/nope/reject', asClient, {});
    assert.equal(unknown.statusCode, 404);
  });

  it('shows a held task with its reason, rule and expiry', async () => {
    const expiresAt = Date.now() + 60_000;
    const held = await post('/v1/runner/hold', asRunner, {
      ...lease,
      reason: 'the command needs approval (pattern ^git push)',
      rule: 'commands.requireApproval[0]',
      expiresAt,
    });
    assert.equal(held.statusCode, 200, held.body);
    const read = await t.app.inject({ url: `/v1/tasks/${lease.taskId}`, headers: asClient });
    const task = read.json<{ state: string; hold: Record<string, unknown> }>();
    assert.equal(task.state, 'held');
    assert.equal(task.hold.rule, 'commands.requireApproval[0]');
    assert.match(String(task.hold.reason), /needs approval/);
    assert.equal(task.hold.expiresAt, expiresAt);
  });

  it('refuses a malformed decision body, naming the field', async () => {
    const res = await post(`/v1/tasks/${lease.taskId}/approve`, asClient, {
      signature: { keyId: 'k', expiresAt: 1 },
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /signature/);
  });

  it('records a client decision with the token name; the heartbeat carries it', async () => {
    const res = await post(`/v1/tasks/${lease.taskId}/approve`, asClient, { reason: 'ok' });
    assert.equal(res.statusCode, 200, res.body);
    const decision = res.json<{ hold: { decision: Record<string, unknown> } }>().hold.decision;
    assert.equal(decision.by, 'token alice');
    assert.equal(decision.source, 'remote');
    const beat = await post('/v1/runner/heartbeat', asRunner, { runner: 'box', leases: [lease] });
    const body = beat.json<{ decisions: { taskId: string; decision: { decision: string } }[] }>();
    assert.deepEqual(
      body.decisions.map((d) => [d.taskId, d.decision.decision]),
      [[lease.taskId, 'approved']],
    );
  });

  it('resumes the approved task; the decision stays on the read', async () => {
    const decision = { decision: 'approved', by: 'token alice', at: Date.now(), source: 'remote' };
    const res = await post('/v1/runner/resume', asRunner, { ...lease, decision });
    assert.equal(res.statusCode, 200, res.body);
    const task = res.json<{ task: { state: string; hold: { decision: { by: string } } } }>().task;
    assert.equal(task.state, 'running');
    assert.equal(task.hold.decision.by, 'token alice');
    const again = await post('/v1/runner/resume', asRunner, { ...lease, decision });
    assert.equal(again.statusCode, 409, 'only a held task resumes');
  });
});
