// The SDK's session methods against the real server over loopback HTTP: typed replies, the
// ambiguity error's candidates, runners' recent sessions, and reading an agent turn's report.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/protocol/errors.ts';
import { agentOutputOf, type OutpostClient } from '../../src/sdk/index.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ScriptedRunner } from '../helpers/scripted-runner.ts';

describe('OutpostClient session methods', { timeout: 30_000 }, () => {
  let server: TestServer;
  let runner: ScriptedRunner;
  let client: OutpostClient;

  before(async () => {
    server = await startTestServer();
    runner = await ScriptedRunner.start(server.url, server.token, 'sdk-runner');
    client = runner.client;
    for (const [key, id] of [
      ['room-1', 'beef0001'],
      ['room-2', 'beef0002'],
    ] as const) {
      await client.createTask({
        kind: 'agent',
        spec: { agent: 'codex', prompt: 'x' },
        sessionKey: key,
      });
      await runner.answer(await runner.claim(), { text: 'ok', sessionId: id, model: 'gpt-5' });
    }
  });
  after(() => server.close());

  it('lists, shows, resets and resumes sessions', async () => {
    const { sessions } = await client.listSessions({ agent: 'codex', limit: 1 });
    assert.equal(sessions.length, 1);
    const shown = await client.getSession('room-1', { agent: 'codex' });
    assert.deepEqual(
      shown.sessions.map((s) => [s.key, s.agent, s.providerSessionId, s.taskCount]),
      [['room-1', 'codex', 'beef0001', 1]],
    );
    const reset = await client.resetSession('room-1');
    assert.equal(reset.sessions[0]?.providerSessionId, undefined);
    const resumed = await client.resumeSession('room-1', { agent: 'codex', prefix: 'beef0002' });
    assert.equal(resumed.providerSessionId, 'beef0002');
  });

  it('rejects an ambiguous prefix with conflict and the candidates, an unknown key with not_found', async () => {
    await client.resumeSession('room-1', { agent: 'codex', providerSessionId: 'beef0001' });
    const ambiguous = await client
      .resumeSession('room-3', { agent: 'codex', prefix: 'beef' })
      .catch((err: unknown) => err);
    assert.ok(ambiguous instanceof AppError);
    assert.equal(ambiguous.code, 'conflict');
    assert.deepEqual(ambiguous.details, { candidates: ['beef0001', 'beef0002'] });
    const missing = await client.getSession('nobody').catch((err: unknown) => err);
    assert.ok(missing instanceof AppError);
    assert.equal(missing.code, 'not_found');
  });

  it("reads a runner's recent sessions", async () => {
    const recent = { sessionId: 'r-1', lastModified: 5, sizeBytes: 10, topic: 'hello' };
    await client.reportAgentSessions({ runner: 'sdk-runner', agent: 'gemini', sessions: [recent] });
    const list = await client.recentAgentSessions('sdk-runner', { agent: 'gemini', limit: 5 });
    assert.deepEqual([list.runner, list.agent, list.sessions], ['sdk-runner', 'gemini', [recent]]);
    const empty = await client.recentAgentSessions('sdk-runner');
    assert.deepEqual([empty.agent, empty.sessions], ['claude', []]);
  });

  it("reads an agent turn's report from its outcome, and nothing from other tasks", async () => {
    const { tasks } = await client.listTasks({ sessionKey: 'room-2' });
    const turn = await client.getTask(tasks[0]!.id);
    assert.deepEqual(agentOutputOf(turn), {
      agent: 'codex',
      text: 'ok',
      sessionId: 'beef0002',
      model: 'gpt-5',
      resumed: false,
    });
    const shell = await client.createTask({ kind: 'shell', spec: { command: 'true' } });
    assert.equal(agentOutputOf(shell), undefined);
    const garbled = { ...turn, outcome: { ...turn.outcome!, output: { agent: 'codex' } } };
    assert.equal(agentOutputOf(garbled), undefined, 'a malformed report is ignored, not thrown');
  });
});
