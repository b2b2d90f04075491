// Fault: a runner is SIGKILLed in the middle of agent turns (real `outpost serve` and `outpost
// runner` processes, the fake Claude Code, Codex and Gemini CLIs). Each turn's session already
// holds the provider id its CLI printed first, so when the turns end `lost` after their lease,
// the next turn of each key, run by the restarted runner, continues the same conversation.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentName, SessionList } from '../../src/protocol/agents.ts';
import {
  api,
  report,
  startRunnerProcess,
  startServe,
  TERMINAL,
  waitFor,
  type ServerProcess,
  type TaskView,
} from '../helpers/fault.ts';
import type { Daemon } from '../helpers/processes.ts';

const LEASE_MS = 2_000;
const SERVER_ENV = {
  OUTPOST_LEASE_MS: String(LEASE_MS),
  OUTPOST_HEARTBEAT_MS: '500',
  OUTPOST_REAP_INTERVAL_MS: '100',
};
const AGENTS: readonly AgentName[] = ['claude', 'codex', 'gemini'];
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

describe('runner SIGKILLed mid agent turn', { timeout: 120_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  const runners: Daemon[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outpost-fault-agent-'));
    server = await startServe({ dataDir: join(dir, 'server'), env: SERVER_ENV });
  });
  after(async () => {
    for (const runner of runners) await runner.stop('SIGKILL');
    await server?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  /** The same runner each time (name and data dir): a restart sweeps what the killed one left. */
  async function startRunner(): Promise<Daemon> {
    const env = {
      HOME: join(dir, 'home'), // where the fakes keep their conversations, for both runs
      CLAUDE_PATH: fixture('fake-claude.mjs'),
      CODEX_PATH: fixture('fake-codex.mjs'),
      GEMINI_PATH: fixture('fake-gemini.mjs'),
    };
    const runner = await startRunnerProcess({ url: server.url, name: 'box', dir, env });
    runners.push(runner);
    return runner;
  }

  const getTask = async (id: string) =>
    (await api<TaskView>(server.url, 'GET', `/v1/tasks/${id}`)).body;
  const providerOf = async (key: string, agent: AgentName) => {
    const res = await api<SessionList>(server.url, 'GET', `/v1/sessions/${key}?agent=${agent}`);
    return res.body.sessions?.[0]?.providerSessionId;
  };
  async function submitTurn(agent: AgentName, key: string, prompt: string): Promise<TaskView> {
    const body = { kind: 'agent', spec: { agent, prompt, cwd: dir }, sessionKey: key };
    const res = await api<TaskView>(server.url, 'POST', '/v1/tasks', {
      ...body,
      timeoutMs: 60_000,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  }
  const ended = (id: string, withinMs: number) =>
    waitFor(
      `task ${id} to end`,
      async () => {
        const seen = await getTask(id);
        return TERMINAL.has(seen.state) ? seen : undefined;
      },
      withinMs,
    );

  it('keeps the id each CLI printed first, and the next turn resumes it', async (t) => {
    const doomed = await startRunner();
    const turns = AGENTS.map(async (agent) => {
      const key = `kill-${agent}`;
      const first = await submitTurn(agent, key, 'remember 42 SLOW:30000');
      const sessionId = await waitFor(
        `${agent}'s session id while its turn runs`,
        () => providerOf(key, agent),
        20_000,
      );
      assert.equal((await getTask(first.id)).state, 'running', `${agent}: still running`);
      // The user's next message arrives while the first is still being answered: it waits.
      const next = await submitTurn(agent, key, 'what was it?');
      assert.equal(next.state, 'held');
      return { agent, key, first, next, sessionId };
    });
    const running = await Promise.all(turns);
    await doomed.stop('SIGKILL');
    const diedAt = Date.now();
    for (const { agent, first } of running) {
      const lost = await ended(first.id, LEASE_MS + 10_000);
      assert.equal(lost.state, 'lost', `${agent}: the dead runner's turn ends lost`);
    }
    const lostAfterMs = Date.now() - diedAt;
    await startRunner();
    for (const { agent, key, next, sessionId } of running) {
      const done = await ended(next.id, 30_000);
      assert.equal(done.state, 'succeeded', `${agent}: ${JSON.stringify(done.outcome?.error)}`);
      assert.equal(done.outcome?.stdout, `turn 2 of session ${sessionId}: what was it?`);
      assert.equal(await providerOf(key, agent), sessionId);
    }
    report(t, 'agent-runner-kill', { leaseMs: LEASE_MS, deathToAllLostMs: lostAfterMs });
  });
});
