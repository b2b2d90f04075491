// Agent sessions through the v1 API and the runner protocol (no CLI): turns of one key are held
// and run in order, other keys and agents run alongside, a claimed turn resumes the session's
// provider id, reset/resume/prefix, and the mapping outliving a server restart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestApp, testAppOptions, type TestApp } from '../helpers/app.ts';
import { createApp } from '../../src/server/create-app.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Outcome, Task } from '../../src/protocol/tasks.ts';
import type { Session } from '../../src/protocol/agents.ts';

/** What a runner reports for a turn whose CLI printed `sessionId` first. */
const answered = (sessionId: string, text = 'done'): Outcome => ({
  status: 'succeeded',
  exitCode: 0,
  stdout: text,
  output: { agent: 'claude', text, sessionId, resumed: false },
  metadata: { agent: 'claude', sessionId },
});

describe('agent sessions', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp()));
  after(() => t.close());

  const get = (url: string) => t.app.inject({ method: 'GET', url, headers: t.admin });
  const turn = async (key: string, prompt: string, agent = 'claude', extra: object = {}) => {
    const res = await t.post('/v1/tasks', {
      kind: 'agent',
      spec: { agent, prompt, ...extra },
      sessionKey: key,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Task>();
  };
  const claimAll = async () => {
    const res = await t.post('/v1/runner/claim', { runner: 'r1', max: 16, kinds: ['agent'] });
    return res.json<{ tasks: Claim[] }>().tasks;
  };
  const finish = (c: Claim, outcome: Outcome) =>
    t.post('/v1/runner/finish', { taskId: c.task.id, leaseToken: c.leaseToken, outcome });
  const state = async (id: string) => (await get(`/v1/tasks/${id}`)).json<Task>().state;

  it('holds a second turn of a key until the first ends, then resumes its session', async () => {
    const first = await turn('chan-1', 'one');
    const second = await turn('chan-1', 'two');
    const third = await turn('chan-1', 'three');
    assert.equal(first.state, 'queued');
    assert.equal(second.state, 'held');
    assert.equal(third.state, 'held');
    const [c1, ...rest] = await claimAll();
    assert.equal(c1?.task.id, first.id);
    assert.equal(rest.length, 0, 'held turns are not claimable');
    assert.equal(c1.task.spec.resume, undefined, "a key's first turn starts fresh");
    await finish(c1, answered('sess-aaaa-1111'));
    assert.equal(await state(second.id), 'queued');
    assert.equal(await state(third.id), 'held', 'one turn at a time, in submission order');
    const [c2] = await claimAll();
    assert.equal(c2?.task.id, second.id);
    assert.equal(c2.task.spec.resume, 'sess-aaaa-1111');
    await finish(c2, answered('sess-aaaa-1111'));
    const [c3] = await claimAll();
    assert.equal(c3?.task.id, third.id);
    await finish(c3, answered('sess-aaaa-1111'));
    const events = (await get(`/v1/events?taskId=${second.id}`)).json<{
      events: { type: string }[];
    }>();
    assert.deepEqual(
      events.events.map((e) => e.type).filter((x) => x !== 'task.completed'),
      ['task.created', 'task.held', 'task.released', 'task.started'],
    );
  });

  it('runs other keys and other agents alongside a busy key', async () => {
    const busy = await turn('chan-2', 'long');
    const [running] = await claimAll();
    assert.equal(running?.task.id, busy.id);
    const waiting = await turn('chan-2', 'next');
    const otherKey = await turn('chan-3', 'parallel');
    const otherAgent = await turn('chan-2', 'codex here', 'codex');
    assert.equal(waiting.state, 'held');
    const claimed = (await claimAll()).map((c) => c.task.id).sort();
    assert.deepEqual(claimed, [otherKey.id, otherAgent.id].sort());
    for (const c of await claimAll()) await finish(c, answered('x'));
    await finish(running, {
      status: 'failed',
      error: { kind: 'provider', message: 'boom', retryable: false },
    });
    const [next] = await claimAll();
    assert.equal(next?.task.id, waiting.id, 'a failed turn releases the next one too');
    await finish(next, answered('sess-chan-2'));
  });

  it('releases the next turn when a queued one is cancelled and when a running one is', async () => {
    const a = await turn('chan-4', 'a');
    const b = await turn('chan-4', 'b');
    const c = await turn('chan-4', 'c');
    await t.post(`/v1/tasks/${b.id}/cancel`);
    assert.equal(await state(b.id), 'cancelled');
    assert.equal(await state(c.id), 'held', 'still behind the unfinished first turn');
    const [ca] = await claimAll();
    assert.equal(ca?.task.id, a.id);
    await t.post(`/v1/tasks/${a.id}/cancel`);
    await finish(ca, {
      status: 'cancelled',
      error: { kind: 'cancelled', message: 'x', retryable: false },
    });
    assert.equal(await state(c.id), 'queued');
    const [cc] = await claimAll();
    await finish(cc!, answered('y'));
  });

  it('starts fresh after a reset and with fresh: true', async () => {
    const first = await turn('chan-5', 'hi');
    await finish((await claimAll())[0]!, answered('sess-five-old'));
    const shown = (await get('/v1/sessions/chan-5')).json<{ sessions: Session[] }>().sessions;
    assert.equal(shown[0]?.providerSessionId, 'sess-five-old');
    assert.equal(shown[0]?.lastTaskId, first.id);
    assert.equal(shown[0]?.taskCount, 1);
    const reset = await t.post('/v1/sessions/chan-5/reset', {});
    assert.equal(reset.statusCode, 200);
    await turn('chan-5', 'again');
    const [c] = await claimAll();
    assert.ok(c);
    assert.equal(c.task.spec.resume, undefined);
    await finish(c, answered('sess-five-new'));
    await turn('chan-5', 'fresh please', 'claude', { fresh: true });
    const [f] = await claimAll();
    assert.ok(f);
    assert.equal(f.task.spec.resume, undefined, 'fresh: true does not resume');
    await finish(f, answered('sess-five-newer'));
    await turn('chan-5', 'continue');
    const [n] = await claimAll();
    assert.equal(n?.task.spec.resume, 'sess-five-newer');
    await finish(n, answered('sess-five-newer'));
    const back = await t.post('/v1/sessions/chan-5/resume', {
      agent: 'claude',
      prefix: 'sess-five-o',
    });
    assert.equal(back.statusCode, 200, 'a prefix still finds the id the key had before its reset');
    assert.equal(back.json<Session>().providerSessionId, 'sess-five-old');
  });

  it('resumes by full id or a unique prefix; an ambiguous prefix lists the candidates', async () => {
    for (const [key, id] of [
      ['p-1', 'abc11111-0000'],
      ['p-2', 'abc22222-0000'],
    ]) {
      await turn(key!, 'x');
      await finish((await claimAll())[0]!, answered(id!));
    }
    const ambiguous = await t.post('/v1/sessions/chan-6/resume', {
      agent: 'claude',
      prefix: 'abc',
    });
    assert.equal(ambiguous.statusCode, 409);
    const error = ambiguous.json<{
      error: { message: string; details: { candidates: string[] } };
    }>();
    assert.deepEqual(error.error.details.candidates, ['abc11111-0000', 'abc22222-0000']);
    assert.match(error.error.message, /abc11111-0000, abc22222-0000/);
    const missing = await t.post('/v1/sessions/chan-6/resume', { agent: 'claude', prefix: 'zzz' });
    assert.equal(missing.statusCode, 404);
    const ok = await t.post('/v1/sessions/chan-6/resume', { agent: 'claude', prefix: 'abc2' });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json<Session>().providerSessionId, 'abc22222-0000');
    await turn('chan-6', 'go on');
    const [c] = await claimAll();
    assert.equal(c?.task.spec.resume, 'abc22222-0000', 'the prefix resumed the right session');
    await finish(c, answered('abc22222-0000'));
    const both = await t.post('/v1/sessions/chan-6/resume', {
      agent: 'claude',
      prefix: 'abc',
      providerSessionId: 'abc11111-0000',
    });
    assert.equal(both.statusCode, 400);
  });

  it('hands a runner only the turns of the agents it says it has', async () => {
    const claude = await turn('chan-8', 'for claude');
    const codex = await turn('chan-8', 'for codex', 'codex');
    const res = await t.post('/v1/runner/claim', { runner: 'r2', max: 4, agents: ['codex'] });
    const ids = res.json<{ tasks: Claim[] }>().tasks.map((c) => c.task.id);
    assert.deepEqual(ids, [codex.id]);
    const none = await t.post('/v1/runner/claim', { runner: 'r2', max: 4, agents: [] });
    assert.deepEqual(none.json<{ tasks: Claim[] }>().tasks, [], 'no agents: no agent turns');
    const [c] = await claimAll();
    assert.equal(c?.task.id, claude.id, 'a runner that names no list takes any agent');
    await finish(c, answered('x'));
  });

  it('refuses a resume id that could read as a flag', async () => {
    const res = await t.post('/v1/tasks', {
      kind: 'agent',
      spec: { agent: 'claude', prompt: 'x', resume: '--dangerously-skip-permissions' },
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /spec\.resume/);
  });

  it('stores recent sessions a runner reports and lists them per runner', async () => {
    const sessions = [
      {
        sessionId: 'rec-1',
        project: '/home/me/app',
        lastModified: 2_000,
        sizeBytes: 2048,
        topic: 'fix the test',
      },
    ];
    const res = await t.post('/v1/runner/agent-sessions', {
      runner: 'r1',
      agent: 'claude',
      sessions,
    });
    assert.deepEqual(res.json(), { stored: 1 });
    const list = (await get('/v1/runners/r1/agent-sessions?agent=claude')).json<{
      sessions: unknown[];
    }>();
    assert.deepEqual(list.sessions, sessions);
    const none = (await get('/v1/runners/r2/agent-sessions?agent=codex')).json<{
      sessions: unknown[];
    }>();
    assert.deepEqual(none.sessions, []);
    const byPrefix = await t.post('/v1/sessions/chan-7/resume', {
      agent: 'claude',
      prefix: 'rec-',
    });
    assert.equal(byPrefix.json<Session>().providerSessionId, 'rec-1', 'reported ids resolve too');
  });
});

describe('agent sessions across a server restart', () => {
  it('keeps the key → provider session mapping and the held turns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-sessions-'));
    const file = join(dir, 'outpost.db');
    const open = async () => {
      const store = openSqliteStore(file);
      const app = await createApp({ store, options: testAppOptions() });
      return { app, store };
    };
    const headers = { authorization: `Bearer ${testAppOptions().token}` };
    try {
      let { app, store } = await open();
      const create = (prompt: string) =>
        app.inject({
          method: 'POST',
          url: '/v1/tasks',
          headers,
          payload: { kind: 'agent', spec: { agent: 'gemini', prompt }, sessionKey: 'room' },
        });
      await create('first');
      const claimed = await app.inject({
        method: 'POST',
        url: '/v1/runner/claim',
        headers,
        payload: { runner: 'r1', max: 1 },
      });
      const [c] = claimed.json<{ tasks: Claim[] }>().tasks;
      await app.inject({
        method: 'POST',
        url: '/v1/runner/finish',
        headers,
        payload: { taskId: c!.task.id, leaseToken: c!.leaseToken, outcome: answered('gem-42') },
      });
      await app.close();
      await store.close();
      ({ app, store } = await open());
      await create('second');
      const again = await app.inject({
        method: 'POST',
        url: '/v1/runner/claim',
        headers,
        payload: { runner: 'r1', max: 1 },
      });
      const [c2] = again.json<{ tasks: Claim[] }>().tasks;
      assert.equal(c2?.task.spec.resume, 'gem-42');
      await app.close();
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
