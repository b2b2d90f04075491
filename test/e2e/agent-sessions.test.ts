// Agent sessions end to end: a real `outpost serve` and `outpost runner` driving the fake Claude
// and Codex CLIs. Two chat channels keep two conversations per agent; turns of one key never
// overlap and keep their order while another key runs alongside; a prefix resumes the right
// session; the mapping outlives a server restart.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutpostClient } from '../../src/sdk/client.ts';
import type { AgentOutput } from '../../src/protocol/agents.ts';
import type { Task } from '../../src/protocol/tasks.ts';
import { cleanEnv, startDaemon, type Daemon } from '../helpers/processes.ts';

const TOKEN = 'agent-sessions-token-0123456789';
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

/** A port that was free a moment ago, so a restarted server comes back at the same URL. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The fakes answer `turn N of session <id>: <prompt>`. */
function turnOf(task: Task): { turn: number; session: string } {
  const match = /^turn (\d+) of session (\S+):/.exec(task.outcome?.stdout ?? '');
  assert.ok(match, `an answer from the fake CLI, got ${JSON.stringify(task.outcome)}`);
  return { turn: Number(match[1]), session: match[2]! };
}

describe('agent sessions through a real server and runner', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-agent-e2e-'));
  let port: number;
  let server: Daemon;
  let runner: Daemon;
  let client: OutpostClient;
  const serverEnv = () =>
    cleanEnv({
      OUTPOST_TOKEN: TOKEN,
      OUTPOST_DATA_DIR: join(dir, 'server'),
      OUTPOST_LOG_LEVEL: 'warn',
    });
  const startServer = () =>
    startDaemon(['serve', '--port', String(port)], serverEnv(), /listening on/);

  before(async () => {
    port = await freePort();
    server = await startServer();
    const url = `http://127.0.0.1:${port}`;
    runner = await startDaemon(
      ['runner'],
      cleanEnv({
        OUTPOST_URL: url,
        OUTPOST_TOKEN: TOKEN,
        OUTPOST_DATA_DIR: join(dir, 'runner'),
        OUTPOST_ROOTS: dir,
        OUTPOST_RUNNER_NAME: 'home',
        OUTPOST_CAPACITY: '4',
        HOME: dir,
        CLAUDE_PATH: fixture('fake-claude.mjs'),
        CODEX_PATH: fixture('fake-codex.mjs'),
        GEMINI_PATH: fixture('fake-gemini.mjs'),
      }),
      /polling/,
    );
    client = new OutpostClient({ baseUrl: url, token: TOKEN });
  });
  after(async () => {
    await runner?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const turn = (agent: 'claude' | 'codex', key: string, prompt: string) =>
    client.createTask({
      kind: 'agent',
      spec: { agent, prompt },
      sessionKey: key,
      timeoutMs: 30_000,
    });
  const done = (task: Task) => client.waitForTask(task.id, { pollMs: 30_000 });

  it('keeps one conversation per channel and agent, one turn at a time, in order', async () => {
    // Submitted together: each channel's turns must queue behind each other, not behind the
    // other channel's.
    const a1 = await turn('claude', 'room-a', 'a1 SLOW:600');
    const a2 = await turn('claude', 'room-a', 'a2');
    const b1 = await turn('claude', 'room-b', 'b1 SLOW:600');
    const b2 = await turn('claude', 'room-b', 'b2');
    const c1 = await turn('codex', 'room-a', 'codex in room a');
    assert.equal(a2.state, 'held');
    const [A1, A2, B1, B2, C1] = await Promise.all([a1, a2, b1, b2, c1].map(done));
    for (const t of [A1, A2, B1, B2, C1]) assert.equal(t!.state, 'succeeded', JSON.stringify(t));
    assert.deepEqual([turnOf(A1!).turn, turnOf(A2!).turn], [1, 2]);
    assert.deepEqual([turnOf(B1!).turn, turnOf(B2!).turn], [1, 2]);
    assert.equal(turnOf(A2!).session, turnOf(A1!).session, 'room a continued its conversation');
    assert.equal(turnOf(B2!).session, turnOf(B1!).session);
    assert.notEqual(turnOf(A1!).session, turnOf(B1!).session, 'two rooms, two conversations');
    assert.equal(turnOf(C1!).turn, 1, "codex in room a is not claude's conversation");
    assert.ok(A2!.startedAt! >= A1!.finishedAt!, 'turns of one key never overlap');
    assert.ok(B2!.startedAt! >= B1!.finishedAt!);
    assert.ok(B1!.startedAt! < A1!.finishedAt!, 'the other room ran alongside');
    assert.equal((A2!.outcome!.output as AgentOutput).resumed, true);
  });

  it('resumes the session a prefix names, and keeps the mapping across a server restart', async () => {
    const [room] = (await client.getSession('room-a', { agent: 'claude' })).sessions;
    const id = room!.providerSessionId!;
    await client.resumeSession('room-c', { agent: 'claude', prefix: id.slice(0, 8) });
    const c = await done(await turn('claude', 'room-c', 'from room c'));
    assert.deepEqual(turnOf(c), { turn: 3, session: id }, 'the prefix resumed room a');

    await server.stop();
    server = await startServer();
    const after = await done(await turn('claude', 'room-b', 'after the restart'));
    const [b] = (await client.getSession('room-b', { agent: 'claude' })).sessions;
    assert.deepEqual(turnOf(after), { turn: 3, session: b!.providerSessionId! });
  });
});
