// End to end: `outpost agent` as a real process against a real `outpost serve`, with the test
// playing the runner (scripted-runner.ts) so it decides what each turn streams and answers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { runCli, spawnCli, startServer, type Daemon } from '../helpers/processes.ts';
import { ScriptedRunner } from '../helpers/scripted-runner.ts';

const TOKEN = 'agent-cli-token-0123456789abcdef';
const KEY = `cli:${userInfo().username}`;
const FIRST_ID = '5e55a0aa-1111-4111-8111-111111111111';

describe('outpost agent', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-agent-cli-'));
  let server: Daemon;
  let env: NodeJS.ProcessEnv;
  let runner: ScriptedRunner;
  const agent = (args: string[]) => spawnCli(['agent', ...args], env);

  before(async () => {
    let url: string;
    ({ server, url, env } = await startServer(dir, TOKEN));
    runner = await ScriptedRunner.start(url, TOKEN);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A finished turn under `key` whose agent reported `sessionId`, submitted through the SDK. */
  const seedSession = async (key: string, sessionId: string) => {
    const spec = { agent: 'claude', prompt: 'seed' };
    await runner.client.createTask({ kind: 'agent', spec, sessionKey: key });
    await runner.answer(await runner.claim(), { text: 'ok', sessionId });
  };

  it('streams progress to stderr, prints the answer on stdout, then the footer', async () => {
    const turn = agent(['claude', 'fix', 'the', 'test']);
    const claim = await runner.claim();
    assert.equal(claim.task.sessionKey, KEY, 'the default session key is cli:<user name>');
    assert.deepEqual(claim.task.spec, { agent: 'claude', prompt: 'fix the test' });
    assert.equal(claim.task.timeoutMs, 600_000);
    await runner.progress(claim, ['Looking at the test\n', '→ Bash: npm test\n']);
    await turn.until(() => turn.out.stderr.includes('→ Bash: npm test\n'), 'live progress');
    assert.equal(turn.out.stdout, '', 'nothing on stdout before the answer');
    await runner.answer(claim, {
      text: 'Fixed: the timeout was too short.',
      sessionId: FIRST_ID,
      model: 'claude-sonnet-4-5',
      turns: 3,
      costUsd: 0.0123,
    });
    assert.equal(await turn.exited, 0, turn.out.stderr);
    assert.equal(turn.out.stdout, 'Fixed: the timeout was too short.\n');
    assert.equal(
      turn.out.stderr,
      'Looking at the test\n→ Bash: npm test\n' +
        `session ${KEY} · claude 5e55a0aa · claude-sonnet-4-5 · 3 turns · $0.0123\n`,
    );
  });

  it('continues the default session on the next call', async () => {
    const turn = agent(['claude', 'and', 'now?']);
    const claim = await runner.claim();
    assert.equal(claim.task.sessionKey, KEY);
    assert.equal(claim.task.spec.resume, FIRST_ID, 'the second turn resumes the first session');
    await runner.answer(claim, { text: 'Still here.', sessionId: FIRST_ID, resumed: true });
    assert.equal(await turn.exited, 0, turn.out.stderr);
    assert.equal(turn.out.stdout, 'Still here.\n');
  });

  it('--new starts a fresh conversation, and --json prints the finished task', async () => {
    const turn = agent(['claude', '--new', '--json', 'start', 'over']);
    const claim = await runner.claim();
    assert.equal(claim.task.spec.fresh, true);
    assert.equal(claim.task.spec.resume, undefined, 'a fresh turn does not resume');
    await runner.answer(claim, { text: 'Hello again.', sessionId: 'f0f0f0f0-2222' });
    assert.equal(await turn.exited, 0, turn.out.stderr);
    const task = JSON.parse(turn.out.stdout) as { id: string; state: string; outcome: object };
    assert.equal(task.id, claim.task.id);
    assert.equal(task.state, 'succeeded');
    assert.deepEqual(task.outcome, { ...task.outcome, stdout: 'Hello again.' });
  });

  it('--resume points the session at the one id a prefix matches', async () => {
    await seedSession('seed-1', 'abc11111-0000');
    await seedSession('seed-2', 'abc22222-0000');
    const turn = agent(['claude', '--session', 'picked', '--resume', 'abc2', 'go', 'on']);
    const claim = await runner.claim();
    assert.equal(claim.task.sessionKey, 'picked');
    assert.equal(claim.task.spec.resume, 'abc22222-0000');
    await runner.answer(claim, { text: 'Continuing.', sessionId: 'abc22222-0000' });
    assert.equal(await turn.exited, 0, turn.out.stderr);
  });

  it('an ambiguous --resume prefix fails, lists the candidates and submits nothing', async () => {
    const res = await runCli(
      ['agent', 'claude', '--session', 'unsure', '--resume', 'abc', 'x'],
      env,
    );
    assert.equal(res.code, 1);
    assert.equal(
      res.stderr,
      "outpost: 'abc' matches several claude sessions; give more of the id:\n" +
        '  abc11111-0000\n  abc22222-0000\n',
    );
    const { tasks } = await runner.client.listTasks({ sessionKey: 'unsure' });
    assert.equal(tasks.length, 0);
  });

  it('says a turn waits for the previous turn of its session, then that it started', async () => {
    const first = agent(['codex', '--session', 'busy', 'one']);
    const c1 = await runner.claim();
    const second = agent(['codex', '--session', 'busy', 'two']);
    await second.until(
      () => second.out.stderr.includes('waiting for the previous turn of session busy'),
      'the held notice',
    );
    await runner.answer(c1, { text: 'first answer', sessionId: 'cod-1' });
    const c2 = await runner.claim();
    assert.equal(c2.task.spec.prompt, 'two');
    await second.until(() => second.out.stderr.includes('started on scripted'), 'the start');
    await runner.answer(c2, { text: 'second answer', sessionId: 'cod-1' });
    assert.deepEqual([await first.exited, first.out.stdout], [0, 'first answer\n']);
    assert.deepEqual([await second.exited, second.out.stdout], [0, 'second answer\n']);
  });

  it('a failed turn exits non-zero with its error and prints no answer', async () => {
    const turn = agent(['gemini', '--session', 'fails', 'hi']);
    const claim = await runner.claim();
    await runner.finish(claim, {
      status: 'failed',
      exitCode: 1,
      error: { kind: 'provider', message: 'model overloaded', retryable: false },
    });
    assert.equal(await turn.exited, 1);
    assert.equal(turn.out.stdout, '');
    assert.match(turn.out.stderr, /agent turn \S+ failed: model overloaded/);
  });

  it('Ctrl-C cancels the running turn', async () => {
    const turn = agent(['claude', '--session', 'stopped', 'long', 'job']);
    const claim = await runner.claim();
    await runner.progress(claim, ['working\n']);
    await turn.until(() => turn.out.stderr.includes('working'), 'progress');
    turn.child.kill('SIGINT');
    await runner.waitForCancel(claim);
    await runner.finish(claim, {
      status: 'cancelled',
      error: { kind: 'cancelled', message: 'cancelled by a client', retryable: false },
    });
    assert.equal(await turn.exited, 130);
    assert.match(turn.out.stderr, /cancelling task/);
  });

  it('refuses an unknown agent and --new with --resume', async () => {
    const unknown = await runCli(['agent', 'gpt', 'hi'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /claude, codex, gemini/);
    const both = await runCli(['agent', 'claude', '--new', '--resume', 'abc', 'hi'], env);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--new or --resume, not both/);
  });
});
