// The legacy agent routes: `POST /claude|/codex|/gemini` with their messages, defaults and the
// session id they always return; the result's metadata; the session listings; an old runner's
// view of an agent task.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Outcome, Task } from '../../src/protocol/tasks.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Created {
  taskId: string;
  sessionId: string;
  message: string;
}

describe('legacy agent routes', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp()));
  after(() => t.close());

  const get = (url: string) => t.app.inject({ method: 'GET', url, headers: t.admin });
  const claimOne = async () => {
    const res = await t.post('/v1/runner/claim', { runner: 'r1', max: 1, kinds: ['agent'] });
    const [claim] = res.json<{ tasks: Claim[] }>().tasks;
    assert.ok(claim, 'a task was claimable');
    return claim;
  };
  const answer = (c: Claim, text: string, sessionId: string) => {
    const outcome: Outcome = {
      status: 'succeeded',
      exitCode: 0,
      stdout: text,
      output: { agent: c.task.spec.agent, text, sessionId, resumed: false },
      metadata: { agent: c.task.spec.agent, sessionId },
    };
    return t.post('/v1/runner/finish', { taskId: c.task.id, leaseToken: c.leaseToken, outcome });
  };

  it('refuses a blank prompt and a session id that could read as a flag', async () => {
    for (const route of ['/claude', '/codex', '/gemini']) {
      const res = await t.post(route, { prompt: '   ' });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { error: 'prompt is required' });
    }
    const flag = await t.post('/claude', { prompt: 'hi', sessionId: '--resume' });
    assert.equal(flag.statusCode, 400);
    assert.match(flag.json<{ error: string }>().error, /sessionId/);
  });

  it('always returns a session id, and the result carries it in metadata', async () => {
    const res = await t.post('/claude', { prompt: 'fix the flaky test', origin: 'discord' });
    assert.equal(res.statusCode, 200);
    const created = res.json<Created>();
    assert.equal(created.message, 'Claude CLI task created');
    assert.match(created.sessionId, UUID);
    const claim = await claimOne();
    assert.equal(claim.task.id, created.taskId);
    assert.equal(claim.task.kind, 'agent');
    assert.equal(claim.task.timeoutMs, 120_000);
    assert.equal(claim.task.spec.newSessionId, created.sessionId, 'Claude starts under that id');
    assert.equal(claim.task.spec.resume, undefined);
    await answer(claim, 'All green now.', created.sessionId);
    const result = (await get(`/tasks/${created.taskId}?wait=1000`)).json<{
      stdout: string;
      exitCode: number;
      metadata: Record<string, unknown>;
    }>();
    assert.equal(result.stdout, 'All green now.');
    assert.equal(result.exitCode, 0);
    assert.equal(result.metadata.sessionId, created.sessionId);
    assert.equal(result.metadata.origin, 'discord');

    const next = (
      await t.post('/claude', { prompt: 'and now?', sessionId: created.sessionId })
    ).json<Created>();
    assert.equal(next.sessionId, created.sessionId);
    const resumed = await claimOne();
    assert.equal(resumed.task.spec.resume, created.sessionId, 'the second turn resumes');
    assert.equal(resumed.task.spec.newSessionId, undefined);
    await answer(resumed, 'ok', created.sessionId);

    const sessions = (await get('/claude/sessions')).json<{
      sessions: Record<string, unknown>[];
    }>();
    const mine = sessions.sessions.find((s) => s.sessionId === created.sessionId);
    assert.equal(mine?.taskCount, 2);
    assert.equal(typeof mine?.lastActivity, 'number');
  });

  it('continues a provider session id it has never seen, and maps a key to the id a CLI gave', async () => {
    const codex = (
      await t.post('/codex', { prompt: 'hi', sessionId: 'thread-xyz', model: 'gpt-5' })
    ).json<Created>();
    assert.equal(codex.message, 'Codex CLI task created');
    const claim = await claimOne();
    assert.equal(claim.task.spec.resume, 'thread-xyz');
    assert.equal(claim.task.spec.model, 'gpt-5');
    assert.equal(claim.task.timeoutMs, 300_000);
    await answer(claim, 'hello', 'thread-xyz');

    const gemini = (await t.post('/gemini', { prompt: 'hi', timeout: 5 })).json<Created>();
    assert.equal(gemini.message, 'Gemini CLI task created');
    const g1 = await claimOne();
    assert.equal(g1.task.timeoutMs, 1_000, 'timeout clamps to the minimum');
    assert.equal(g1.task.spec.newSessionId, undefined, 'only Claude takes a pre-assigned id');
    await answer(g1, 'first', 'gem-uuid-1');
    await t.post('/gemini', { prompt: 'again', sessionId: gemini.sessionId });
    const g2 = await claimOne();
    assert.equal(g2.task.spec.resume, 'gem-uuid-1', "the key maps to the CLI's own id");
    await answer(g2, 'second', 'gem-uuid-1');
  });

  it('reports session stats, state and recent sessions in the old shapes', async () => {
    const stats = (await get('/sessions/stats')).json<{
      sessions: { active: number; byType: { cliType: string; count: number }[] };
    }>();
    assert.ok(stats.sessions.active >= 3);
    assert.ok(stats.sessions.byType.some((b) => b.cliType === 'codex' && b.count >= 1));
    const state = (await get('/sessions/state?cliType=codex&limit=abc')).json<{
      sessions: Record<string, unknown>[];
    }>();
    assert.ok(state.sessions.length >= 1);
    assert.ok(state.sessions.every((s) => s.cliType === 'codex'));
    assert.deepEqual(Object.keys(state.sessions[0]!).sort(), [
      'callbackChannel',
      'cliType',
      'createdAt',
      'lastActivity',
      'sessionId',
      'taskCount',
    ]);
    const reported = {
      sessionId: 'c0ffee00-1111',
      project: '/home/me/app',
      lastModified: Date.UTC(2026, 10, 1),
      sizeBytes: 10_240,
      topic: 'why is CI red',
    };
    const older = { ...reported, sessionId: 'old-one', lastModified: Date.UTC(2026, 0, 1) };
    await t.post('/v1/runner/agent-sessions', {
      runner: 'mac',
      agent: 'claude',
      sessions: [older, reported],
    });
    await t.post('/v1/runner/agent-sessions', {
      runner: 'mac',
      agent: 'codex',
      sessions: [reported],
    });
    const claude = (await get('/claude/recent?limit=1')).json<{
      sessions: Record<string, unknown>[];
    }>();
    assert.deepEqual(claude.sessions, [
      {
        sessionId: 'c0ffee00-1111',
        project: '/home/me/app',
        lastModified: '2026-11-01T00:00:00.000Z',
        sizeKB: 10,
        topic: 'why is CI red',
      },
    ]);
    const codex = (await get('/codex/recent')).json<{ sessions: Record<string, unknown>[] }>();
    assert.equal(codex.sessions.length, 1);
    assert.equal(codex.sessions[0]?.project, undefined);
  });

  it('hands an old runner a claude-cli task with its session id', async () => {
    const created = (await t.post('/claude', { prompt: 'legacy runner turn' })).json<Created>();
    const poll = await get('/worker/poll?wait=1000');
    const task = poll.json<Record<string, unknown>>();
    assert.equal(task.id, created.taskId);
    assert.equal(task.type, 'claude-cli');
    assert.equal(task.prompt, 'legacy runner turn');
    assert.equal(task.sessionId, created.sessionId);
    assert.equal(task.callbackChannel, undefined);
    const done = await t.post('/worker/result', {
      taskId: created.taskId,
      stdout: 'answered by an old runner',
      exitCode: 0,
      metadata: { sessionId: created.sessionId },
    });
    assert.equal(done.statusCode, 200);
    const read = (await get(`/v1/tasks/${created.taskId}`)).json<Task>();
    assert.equal(read.state, 'succeeded');
  });
});
