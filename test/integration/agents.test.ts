// Agent tasks end to end: a real runner drives the fake Claude Code, Codex and Gemini CLIs of
// test/fixtures (real child processes printing the real JSON formats) for a real server on loopback.
// HOME is a temp dir, so the fakes keep their conversations there and resume works across runs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  AgentName,
  AgentOutput,
  AgentSpec,
  RecentSessionList,
} from '../../src/protocol/agents.ts';
import type { Task } from '../../src/protocol/tasks.ts';
import { OutpostClient } from '../../src/sdk/client.ts';
import { loadRunnerConfig, type RunnerConfig } from '../../src/runner/config.ts';
import { createRunner, type Runner } from '../../src/runner/create-runner.ts';
import { nodeTransport } from '../../src/runner/node-transport.ts';
import type { LogLevel } from '../../src/runner/runner-log.ts';
import { isAlive, makeCtx, makeSettings, waitFor } from '../unit/runner/exec-fixtures.ts';
import { executeTask } from '../../src/runner/executors/index.ts';
import { waitFor as waitUntil } from '../helpers/fault.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const T = { timeout: 30_000 };
const AGENTS: readonly AgentName[] = ['claude', 'codex', 'gemini'];
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const FAKES = {
  CLAUDE_PATH: fixture('fake-claude.mjs'),
  CODEX_PATH: fixture('fake-codex.mjs'),
  GEMINI_PATH: fixture('fake-gemini.mjs'),
};
/** What each fake's first tool call looks like in the progress log. */
const TOOL_LINE: Record<AgentName, string> = {
  claude: '→ Bash: ls -la',
  codex: '→ shell: ls -la',
  gemini: '→ run_shell_command: ls -la',
};
const MODELS = {
  OUTPOST_CLAUDE_MODELS: 'claude-a,claude-b',
  OUTPOST_CODEX_MODELS: 'gpt-a,gpt-b',
  OUTPOST_GEMINI_MODELS: 'gemini-a,gemini-b',
};
const FIRST_MODEL: Record<AgentName, string> = {
  claude: 'claude-a',
  codex: 'gpt-a',
  gemini: 'gemini-a',
};
const SECOND_MODEL: Record<AgentName, string> = {
  claude: 'claude-b',
  codex: 'gpt-b',
  gemini: 'gemini-b',
};

interface LogLine {
  level: LogLevel;
  msg: string;
  fields?: Record<string, unknown>;
}

describe('agent tasks through a real runner', () => {
  let server: TestServer;
  let client: OutpostClient;
  let root: string;
  let home: string;
  let count = 0;
  const runners: Runner[] = [];
  /** The runner most tests share: all three fakes, two models each, room for every test at once. */
  let main: { runner: Runner; config: Readonly<RunnerConfig>; logs: LogLine[] };

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'outpost-agent-home-'));
    root = await mkdtemp(join(tmpdir(), 'outpost-agent-root-'));
    // This file runs in a process of its own: the fakes (and the recent scan) see this HOME.
    process.env.HOME = home;
    process.env.ANTHROPIC_API_KEY = 'sk-ant-test';
    server = await startTestServer({ leaseMs: 2_000, heartbeatMs: 300 });
    client = new OutpostClient({ baseUrl: server.url, token: server.token });
    main = await startRunner(MODELS, { capacity: 16 });
  });
  after(async () => {
    await Promise.all(runners.map((r) => r.stop()));
    await server.close();
    await rm(root, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  });

  async function startRunner(
    env: Record<string, string> = {},
    flags: Partial<RunnerConfig> = {},
    baseUrl = server.url,
  ) {
    count += 1;
    const config = loadRunnerConfig(
      { ...FAKES, ...env },
      {
        flags: {
          serverUrl: baseUrl,
          token: server.token,
          name: `agent-runner-${count}`,
          capacity: 4,
          longPollMs: 5_000,
          retryBaseMs: 50,
          retryMaxMs: 500,
          roots: [root],
          dataDir: join(root, `.data-${count}`),
          killGraceMs: 300,
          ...flags,
        },
      },
    );
    const logs: LogLine[] = [];
    const runner = createRunner({
      client: new OutpostClient({ baseUrl, token: server.token, fetch: nodeTransport }),
      config,
      log: (level, msg, fields) => logs.push({ level, msg, fields }),
    });
    runners.push(runner);
    await runner.start();
    return { runner, config, logs };
  }

  function submit(
    spec: AgentSpec,
    opts: { runner?: string; timeoutMs?: number } = {},
  ): Promise<Task> {
    return client.createTask({
      kind: 'agent',
      spec,
      timeoutMs: opts.timeoutMs ?? 20_000,
      target: { runner: opts.runner ?? main.config.name },
    });
  }

  async function run(spec: AgentSpec, opts: { runner?: string; timeoutMs?: number } = {}) {
    const task = await submit(spec, opts);
    const done = await client.waitForTask(task.id, { pollMs: 20_000 });
    return { task: done, outcome: done.outcome!, output: done.outcome?.output as AgentOutput };
  }

  /** Everything the task streamed on stdout, as the server stored it. */
  async function liveStdout(id: string): Promise<string> {
    let text = '';
    for (let after = 0; ;) {
      const page = await client.readLogs(id, { after });
      for (const c of page.chunks) {
        if (c.stream !== 'stdout') continue;
        text += c.encoding === 'base64' ? Buffer.from(c.data, 'base64').toString('utf8') : c.data;
      }
      if (page.chunks.length === 0 || page.lastSeq === after) return text;
      after = page.lastSeq;
    }
  }

  for (const agent of AGENTS) {
    it(`${agent}: answers with its session, model, usage and a progress log`, T, async () => {
      const { task, outcome, output } = await run({ agent, prompt: 'hello there' });
      assert.equal(task.state, 'succeeded', JSON.stringify(outcome.error));
      assert.equal(task.attempt, 1);
      const sessionId = output.sessionId ?? '';
      assert.match(sessionId, /^[0-9a-f-]{36}$/);
      assert.equal(outcome.stdout, `turn 1 of session ${sessionId}: hello there`);
      assert.equal(output.text, outcome.stdout);
      assert.equal(output.model, FIRST_MODEL[agent]);
      assert.equal(output.resumed, false);
      assert.equal(outcome.exitCode, 0);
      assert.deepEqual(outcome.metadata, { agent, sessionId, model: FIRST_MODEL[agent] });
      assert.ok((output.usage?.outputTokens ?? 0) > 0, JSON.stringify(output.usage));
      if (agent === 'claude') assert.equal(output.costUsd, 0.0123);
      const live = await liveStdout(task.id);
      assert.ok(live.includes(`${TOOL_LINE[agent]}\n`), live);
      assert.ok(live.includes(`turn 1 of session ${sessionId}: hello there`), live);
      assert.ok(!live.includes('"type"'), `no raw JSON in the live log:\n${live}`);
    });

    it(
      `${agent}: a resumed turn continues the conversation; an unknown session falls back fresh`,
      T,
      async () => {
        const first = await run({ agent, prompt: 'remember 42' });
        const sessionId = first.output.sessionId!;
        const second = await run({ agent, prompt: 'what was it?', resume: sessionId });
        assert.equal(second.task.state, 'succeeded', JSON.stringify(second.outcome.error));
        assert.equal(second.outcome.stdout, `turn 2 of session ${sessionId}: what was it?`);
        assert.equal(second.output.sessionId, sessionId);
        assert.equal(second.output.resumed, true);
        assert.equal(second.output.freshBecause, undefined);

        const lost = await run({
          agent,
          prompt: 'start over',
          resume: 'f0000000-0000-4000-8000-000000000000',
        });
        assert.equal(lost.task.state, 'succeeded', JSON.stringify(lost.outcome.error));
        assert.equal(lost.output.resumed, false);
        assert.match(
          lost.output.freshBecause ?? '',
          /No conversation found|no rollout found|Invalid session identifier/,
        );
        assert.notEqual(lost.output.sessionId, sessionId);
        assert.equal(lost.outcome.stdout, `turn 1 of session ${lost.output.sessionId}: start over`);
        assert.match(
          await liveStdout(lost.task.id),
          /could not resume .*; starting a fresh session/,
        );
      },
    );

    it(`${agent}: a model refused by the provider falls back to the next one`, T, async () => {
      const { task, output } = await run({ agent, prompt: `hi FAIL:model=${FIRST_MODEL[agent]}` });
      assert.equal(task.state, 'succeeded');
      assert.equal(output.model, SECOND_MODEL[agent]);
      assert.deepEqual(output.modelsSkipped, [FIRST_MODEL[agent]]);
      // The task's own model goes first; when every model is refused the provider error stands.
      const all = `FAIL:model=own FAIL:model=${FIRST_MODEL[agent]} FAIL:model=${SECOND_MODEL[agent]}`;
      const refused = await run({ agent, prompt: all, model: 'own' });
      assert.equal(refused.task.state, 'failed');
      assert.equal(refused.outcome.error?.kind, 'provider');
      assert.deepEqual(refused.output.modelsSkipped, ['own', FIRST_MODEL[agent]]);
      assert.equal(refused.output.model, SECOND_MODEL[agent]);
    });
  }

  it('claude takes the pre-assigned id of a new session', T, async () => {
    const newSessionId = '3b241101-e2bb-4255-8caf-4136c566a962';
    const { output } = await run({ agent: 'claude', prompt: 'hi', newSessionId });
    assert.equal(output.sessionId, newSessionId);
    assert.equal(output.resumed, false);
    // A second attempt of the same turn (its runner died) finds the session begun: it continues it.
    const again = await run({ agent: 'claude', prompt: 'hi again', newSessionId });
    assert.equal(again.task.state, 'succeeded', JSON.stringify(again.outcome.error));
    assert.equal(again.outcome.stdout, `turn 2 of session ${newSessionId}: hi again`);
    assert.equal(again.output.resumed, true);
  });

  const FAILURES: [AgentName, string, string, string][] = [
    ['claude', 'FAIL:provider', 'failed', 'provider'],
    ['codex', 'FAIL:provider', 'failed', 'provider'],
    ['gemini', 'FAIL:provider', 'failed', 'provider'],
    ['claude', 'FAIL:turn_limit', 'failed', 'turn_limit'],
    ['gemini', 'FAIL:turn_limit', 'failed', 'turn_limit'],
    ['claude', 'FAIL:bad_flags', 'failed', 'bad_flags'],
    ['codex', 'FAIL:bad_flags', 'failed', 'bad_flags'],
    ['gemini', 'FAIL:bad_flags', 'failed', 'bad_flags'],
    ['claude', 'FAIL:crash', 'failed', 'crashed'],
    ['codex', 'FAIL:crash', 'failed', 'crashed'],
    ['gemini', 'FAIL:crash', 'failed', 'crashed'],
    ['claude', 'SLOW:10000', 'timed_out', 'timeout'],
    ['codex', 'SLOW:10000', 'timed_out', 'timeout'],
    ['gemini', 'SLOW:10000', 'timed_out', 'timeout'],
  ];

  it('reports every failure kind, never retried', T, async () => {
    const results = await Promise.all(
      FAILURES.map(([agent, prompt]) =>
        run({ agent, prompt: `x ${prompt}` }, { timeoutMs: 1_500 }),
      ),
    );
    const seen = results.map((r, i) => [
      ...FAILURES[i]!.slice(0, 2),
      r.task.state,
      r.outcome.error?.kind,
    ]);
    assert.deepEqual(seen, FAILURES);
    for (const { task, outcome } of results) {
      assert.equal(task.attempt, 1, `${task.id} ran once`);
      assert.equal(outcome.error?.retryable, false);
    }
    const provider = results[0]!;
    assert.match(provider.outcome.error?.message ?? '', /claude reported an error: API Error: 500/);
    assert.equal(provider.output.sessionId?.length, 36, 'the session id is kept on failure');
    assert.match(results[8]!.outcome.error?.message ?? '', /killed by SIGKILL/);
  });

  it('a cwd outside the roots is refused before any CLI runs', T, async () => {
    const { task, outcome } = await run({ agent: 'claude', prompt: 'hi', cwd: '/etc' });
    assert.equal(task.state, 'failed');
    assert.equal(outcome.error?.kind, 'refused');
    assert.equal(outcome.error?.rule, 'roots');
  });

  it(
    'passes the configured mode and extra args, and only each CLI’s own env names',
    T,
    async () => {
      const { config } = await startRunner({
        OUTPOST_CLAUDE_ARGS: '--max-turns 1',
        OUTPOST_CODEX_SANDBOX: 'no-such-sandbox',
      });
      const limited = await run({ agent: 'claude', prompt: 'hi' }, { runner: config.name });
      assert.equal(limited.outcome.error?.kind, 'turn_limit');
      const refused = await run({ agent: 'codex', prompt: 'hi' }, { runner: config.name });
      assert.equal(refused.outcome.error?.kind, 'bad_flags');
      assert.match(refused.outcome.error?.message ?? '', /invalid value 'no-such-sandbox'/);

      const echo = 'ECHO_ENV:ANTHROPIC_API_KEY ECHO_ENV:OUTPOST_TOKEN';
      const claude = await run({ agent: 'claude', prompt: echo });
      assert.match(
        claude.outcome.stdout ?? '',
        /ANTHROPIC_API_KEY=sk-ant-test\nOUTPOST_TOKEN is unset$/,
      );
      const gemini = await run({ agent: 'gemini', prompt: echo });
      assert.match(
        gemini.outcome.stdout ?? '',
        /ANTHROPIC_API_KEY is unset\nOUTPOST_TOKEN is unset$/,
      );
    },
  );

  it('a missing binary is a clear error naming the setting', T, async () => {
    // A runner claims only the agents it found at start, so this is the CLI removed since then.
    const settings = makeSettings([root]);
    const agents = {
      ...settings.agents,
      claude: { ...settings.agents.claude, path: '/nonexistent/claude' },
    };
    const outcome = await executeTask(
      'agent',
      { agent: 'claude', prompt: 'hi' },
      makeCtx({ ...settings, agents }),
    );
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.kind, 'not_found');
    assert.equal(
      outcome.error?.message,
      "claude CLI not found at '/nonexistent/claude'; set CLAUDE_PATH or agents.claude.path in the runner config",
    );
  });

  it("a runner without one agent's CLI leaves that agent's turns to other runners", T, async () => {
    const { config } = await startRunner({ CLAUDE_PATH: '/nonexistent/claude' });
    const claude = await submit({ agent: 'claude', prompt: 'hi' }, { runner: config.name });
    const codex = await run({ agent: 'codex', prompt: 'hi' }, { runner: config.name });
    assert.equal(codex.task.state, 'succeeded');
    assert.equal((await client.getTask(claude.id)).state, 'queued', 'not claimed, not failed');
    await client.cancelTask(claude.id);
  });

  it('a runner with no agent CLI does not claim agent tasks', T, async () => {
    const missing = {
      CLAUDE_PATH: '/no/claude',
      CODEX_PATH: '/no/codex',
      GEMINI_PATH: '/no/gemini',
    };
    const { config, logs } = await startRunner(missing);
    const agentTask = await submit({ agent: 'codex', prompt: 'hi' }, { runner: config.name });
    const shell = await client.createTask({
      kind: 'shell',
      spec: { command: 'true' },
      target: { runner: config.name },
    });
    assert.equal((await client.waitForTask(shell.id, { pollMs: 10_000 })).state, 'succeeded');
    assert.equal((await client.getTask(agentTask.id)).state, 'queued');
    await client.cancelTask(agentTask.id);
    const found = logs.find((l) => l.msg === 'agent CLIs');
    assert.deepEqual(found?.fields?.found, []);
    assert.match(String(found?.fields?.missing), /codex \('\/no\/codex'; set CODEX_PATH/);
  });

  for (const agent of AGENTS) {
    it(`${agent}: a cancelled run whose children ignore SIGTERM leaves no process`, T, async () => {
      const task = await submit(
        { agent, prompt: 'SPAWN_STUBBORN SLOW:30000' },
        { timeoutMs: 60_000 },
      );
      let pids: number[] = [];
      for (let after = 0; pids.length < 2;) {
        const page = await client.readLogs(task.id, { after, waitMs: 5_000 });
        const text = page.chunks.map((c) => c.data).join('');
        pids = [...pids, ...[...text.matchAll(/pid:(\d+)/g)].map((m) => Number(m[1]))];
        assert.ok(!page.done, 'the task ended before printing its children');
        after = page.lastSeq;
      }
      assert.ok(pids.every(isAlive), 'both stubborn children run');
      await client.cancelTask(task.id);
      const done = await client.waitForTask(task.id, { pollMs: 10_000 });
      assert.equal(done.state, 'cancelled');
      assert.equal(done.outcome?.error?.kind, 'cancelled');
      assert.ok(
        await waitFor(() => !pids.some(isAlive), 2_000),
        `still alive: ${pids.filter(isAlive).join(',')}`,
      );
    });
  }

  it(
    'reports recent Claude and Codex sessions, newest first, with the first prompt as topic',
    T,
    async () => {
      const claude = await run({ agent: 'claude', prompt: 'topic for the recent list' });
      const codex = await run({ agent: 'codex', prompt: 'codex topic' });
      // What the server keeps of the shared runner's last report for the agent.
      const report = async (agent: AgentName) => {
        const url = `${server.url}/v1/runners/${main.config.name}/agent-sessions?agent=${agent}`;
        const res = await fetch(url, { headers: { authorization: `Bearer ${server.token}` } });
        return (await res.json()) as RecentSessionList;
      };
      const reported = async (agent: AgentName, sessionId: string) =>
        (await report(agent)).sessions.some((s) => s.sessionId === sessionId);
      const untilTrue = async (probe: Promise<boolean>) => ((await probe) ? true : undefined);
      await waitUntil(
        'claude report',
        () => untilTrue(reported('claude', claude.output.sessionId!)),
        3_000,
      );
      await waitUntil(
        'codex report',
        () => untilTrue(reported('codex', codex.output.sessionId!)),
        3_000,
      );
      const claudeReport = await report('claude');
      const mine = claudeReport.sessions.find((s) => s.sessionId === claude.output.sessionId)!;
      assert.equal(mine.topic, 'topic for the recent list');
      assert.equal(mine.project, root);
      assert.ok(claudeReport.sessions.length <= 20);
      const times = claudeReport.sessions.map((s) => s.lastModified);
      assert.deepEqual(
        times,
        [...times].sort((a, b) => b - a),
      );
      const codexReport = await report('codex');
      assert.equal(
        codexReport.sessions.find((s) => s.sessionId === codex.output.sessionId)?.topic,
        'codex topic',
      );
      const gemini = await report('gemini');
      assert.equal(gemini.reportedAt, undefined, 'gemini keeps no listable sessions');
    },
  );
});
