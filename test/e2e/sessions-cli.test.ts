// End to end: `outpost sessions` as a real process against a real `outpost serve`; the sessions
// come from agent turns a scripted runner answered, and "recent" from the report it sent.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecentSessionList, Session } from '../../src/protocol/agents.ts';
import { runCli, startServer, type Daemon } from '../helpers/processes.ts';
import { ScriptedRunner } from '../helpers/scripted-runner.ts';

const TOKEN = 'sessions-cli-token-0123456789abcdef';
const A = 'aaaa1111-0000-4000-8000-000000000001';
const B = 'aaaa3333-0000-4000-8000-000000000003';
const C = 'cccc2222-0000-4000-8000-000000000002';

describe('outpost sessions', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sessions-cli-'));
  let server: Daemon;
  let env: NodeJS.ProcessEnv;
  let runner: ScriptedRunner;
  const cli = async (...args: string[]) => {
    const res = await runCli(['sessions', ...args], env);
    assert.equal(res.code, 0, res.stderr);
    return res.stdout;
  };
  const json = async <T>(...args: string[]) => JSON.parse(await cli(...args, '--json')) as T;
  const fails = (...args: string[]) => runCli(['sessions', ...args], env);

  before(async () => {
    let url: string;
    ({ server, url, env } = await startServer(dir, TOKEN));
    runner = await ScriptedRunner.start(url, TOKEN);
    for (const [key, agent, sessionId] of [
      ['chan-a', 'claude', A],
      ['chan-a', 'codex', C],
      ['chan-b', 'claude', B],
    ] as const) {
      await runner.client.createTask({
        kind: 'agent',
        spec: { agent, prompt: 'x' },
        sessionKey: key,
      });
      await runner.answer(await runner.claim(), { text: 'ok', sessionId });
    }
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists sessions as a table by default, and as JSON filtered by agent', async () => {
    // Read-only commands run side by side: each is a process start, and the test stays quick.
    const [table, codex] = await Promise.all([
      cli(),
      json<{ sessions: Session[] }>('list', '--agent', 'codex'),
    ]);
    assert.match(table, /^KEY +AGENT +PROVIDER SESSION +TURNS +UPDATED\n/);
    assert.match(table, new RegExp(`^chan-a +claude +${A} +1 +\\d{4}-`, 'm'));
    assert.match(table, new RegExp(`^chan-a +codex +${C} +1 `, 'm'));
    assert.match(table, new RegExp(`^chan-b +claude +${B} +1 `, 'm'));
    assert.deepEqual(
      codex.sessions.map((s) => [s.key, s.agent, s.providerSessionId]),
      [['chan-a', 'codex', C]],
    );
  });

  it("shows a key's session for each agent; an unknown key fails", async () => {
    const [table, claude, missing] = await Promise.all([
      cli('show', 'chan-a'),
      json<{ sessions: Session[] }>('show', 'chan-a', '--agent', 'claude'),
      fails('show', 'nope'),
    ]);
    assert.match(table, /^KEY +AGENT +PROVIDER SESSION +TURNS +CREATED +UPDATED +LAST TASK\n/);
    assert.match(table, new RegExp(`^chan-a +claude +${A} +1 .* [0-9a-f-]{36}$`, 'm'));
    assert.match(table, new RegExp(`^chan-a +codex +${C} +1 `, 'm'));
    assert.deepEqual(
      claude.sessions.map((s) => [s.agent, s.providerSessionId]),
      [['claude', A]],
    );
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No session with key 'nope'/);
  });

  it('lists the candidates of an ambiguous prefix; resumes by prefix and by full id', async () => {
    const ambiguous = await fails('resume', 'chan-a', 'aaaa');
    assert.equal(ambiguous.code, 1);
    assert.equal(
      ambiguous.stderr,
      `outpost: 'aaaa' matches several claude sessions; give more of the id:\n  ${A}\n  ${B}\n`,
    );
    assert.equal(
      await cli('resume', 'chan-a', 'aaaa3'),
      `chan-a (claude) now continues session ${B}.\n`,
    );
    const { sessions } = await json<{ sessions: Session[] }>('show', 'chan-a', '--agent', 'claude');
    assert.equal(sessions[0]?.providerSessionId, B);
    const outside = '0d0d0d0d-1111-4222-8333-444444444444';
    const resumed = await json<Session>('resume', 'chan-c', outside, '--agent', 'gemini');
    assert.deepEqual(
      [resumed.key, resumed.agent, resumed.providerSessionId],
      ['chan-c', 'gemini', outside],
    );
    const unknown = await fails('resume', 'chan-a', 'zzz');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No claude session id starts with 'zzz'/);
  });

  it("resets one agent's conversation of a key", async () => {
    assert.equal(
      await cli('reset', 'chan-a', '--agent', 'claude'),
      'Reset chan-a (claude): the next turn starts a new conversation.\n',
    );
    const { sessions } = await json<{ sessions: Session[] }>('show', 'chan-a');
    const ids = Object.fromEntries(sessions.map((s) => [s.agent, s.providerSessionId]));
    assert.deepEqual(ids, { claude: undefined, codex: C }, 'codex keeps its conversation');
    assert.match(await cli('show', 'chan-a'), /^chan-a +claude +- \(next turn starts fresh\)/m);
    // A reset id is no longer known by prefix, but its full id still resumes it.
    assert.equal(await cli('resume', 'chan-a', A), `chan-a (claude) now continues session ${A}.\n`);
  });

  it("shows a runner's recent sessions, by name or for every online runner", async () => {
    const reported = {
      sessionId: 'rec-1',
      project: '/home/me/app',
      lastModified: Date.UTC(2025, 0, 2, 3, 4, 5),
      sizeBytes: 2048,
      topic: 'fix the\n  flaky test',
    };
    const body = { runner: runner.name, agent: 'claude' as const, sessions: [reported] };
    await runner.client.reportAgentSessions(body);
    const [table, one, none, all] = await Promise.all([
      cli('recent', '--runner', 'scripted'),
      json<RecentSessionList>('recent', '--runner', 'scripted'),
      cli('recent', '--runner', 'scripted', '--agent', 'codex'),
      json<RecentSessionList[]>('recent'),
    ]);
    assert.match(table, /^claude sessions on runner scripted \(reported \d{4}-.*\):\n/);
    assert.match(table, /^SESSION +MODIFIED +SIZE +PROJECT +TOPIC$/m);
    assert.match(
      table,
      /^rec-1 +2025-01-02 03:04:05 +2\.0 KiB +\/home\/me\/app +fix the flaky test$/m,
    );
    assert.deepEqual(one.sessions, [reported]);
    assert.match(none, /codex sessions on runner scripted \(never reported\):\n {2}none\n/);
    assert.deepEqual(
      all.map((l) => [l.runner, l.sessions.map((s) => s.sessionId)]),
      [['scripted', ['rec-1']]],
    );
  });

  it('recent without --runner tells a client token what to pass', async () => {
    const { secret } = await runner.client.createToken({ name: 'cli-user', role: 'client' });
    const res = await runCli(['sessions', 'recent', '--token', secret], env);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /Pass --runner NAME: finding the online runners needs an admin token/);
  });
});
