// Recent sessions from Claude Code's and Codex's own storage, in their real layouts and line
// formats (including the lines that are not the user's first message), and their report.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OutpostClient } from '../../../../src/sdk/client.ts';
import { nodeTransport } from '../../../../src/runner/node-transport.ts';
import { scanClaudeSessions, scanCodexSessions } from '../../../../src/runner/agents/recent.ts';
import { createSessionReporter } from '../../../../src/runner/agents/session-reporter.ts';
import type { LogLevel } from '../../../../src/runner/runner-log.ts';
import { startRawServer } from '../../../helpers/server.ts';
import { makeTempDir } from '../exec-fixtures.ts';

const lines = (...objects: unknown[]) => objects.map((o) => JSON.stringify(o)).join('\n') + '\n';
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function writeAt(path: string, text: string, mtimeSec: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  utimesSync(path, mtimeSec, mtimeSec);
}

describe('recent sessions', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTempDir('outpost-recent-')));
  after(() => cleanup());

  it('lists Claude sessions newest first with the first real user message as topic', async () => {
    const claude = join(dir, 'claude');
    const project = join(claude, 'projects', '-work-app');
    writeAt(
      join(project, `${uuid(1)}.jsonl`),
      lines(
        { type: 'summary', summary: 'Old title', leafUuid: 'x' },
        {
          type: 'user',
          isMeta: true,
          message: { role: 'user', content: 'Caveat: local commands' },
        },
        { type: 'user', message: { role: 'user', content: '<command-name>/clear</command-name>' } },
        {
          type: 'user',
          cwd: '/work/app',
          message: {
            role: 'user',
            content: [{ type: 'text', text: `Fix the\nflaky test ${'x'.repeat(200)}` }],
          },
        },
        {
          type: 'assistant',
          message: { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
        },
      ),
      1_700_000_100,
    );
    writeAt(
      join(project, `${uuid(2)}.jsonl`),
      lines({ type: 'user', message: { role: 'user', content: 'newer' } }),
      1_700_000_200,
    );
    writeAt(
      join(project, `agent-${uuid(3)}.jsonl`),
      lines({ type: 'user', message: { content: 'sub-agent' } }),
      1_700_000_300,
    );
    writeAt(join(project, 'notes.txt'), 'not a session', 1_700_000_400);
    const sessions = await scanClaudeSessions(claude);
    assert.deepEqual(
      sessions.map((s) => s.sessionId),
      [uuid(2), uuid(1)],
    );
    const older = sessions[1]!;
    assert.equal(older.topic, `Fix the flaky test ${'x'.repeat(131)}`);
    assert.equal(older.topic.length, 150);
    assert.equal(older.project, '/work/app');
    assert.equal(older.lastModified, 1_700_000_100_000);
    assert.equal(
      sessions[0]!.project,
      '-work-app',
      'without a cwd line the directory name stands in',
    );
  });

  it('lists at most 20, and reads only the head of each file', async () => {
    const claude = join(dir, 'many');
    for (let i = 0; i < 25; i++) {
      const huge = i === 24 ? '\n' + 'y'.repeat(1 << 20) : '';
      writeAt(
        join(claude, 'projects', 'p', `${uuid(i)}.jsonl`),
        lines({ type: 'user', message: { content: `n${i}` } }) + huge,
        1_700_000_000 + i,
      );
    }
    const sessions = await scanClaudeSessions(claude);
    assert.equal(sessions.length, 20);
    assert.equal(sessions[0]!.sessionId, uuid(24));
    assert.equal(sessions[0]!.topic, 'n24');
    assert.ok(sessions[0]!.sizeBytes > 1 << 20);
  });

  it('lists Codex rollouts across days, skipping the injected context for the topic', async () => {
    const codex = join(dir, 'codex');
    const meta = (id: string) => ({
      timestamp: 't',
      type: 'session_meta',
      payload: { id, cwd: '/w', instructions: 'z'.repeat(30_000) },
    });
    const context = {
      type: 'response_item',
      payload: {
        type: 'message',
        role: 'user',
        content: [
          {
            type: 'input_text',
            text: '<environment_context>\n<cwd>/w</cwd>\n</environment_context>',
          },
        ],
      },
    };
    writeAt(
      join(codex, 'sessions', '2025', '01', '31', `rollout-2025-01-31T10-00-00-${uuid(7)}.jsonl`),
      lines(meta(uuid(7)), context, {
        type: 'response_item',
        payload: {
          type: 'message',
          role: 'user',
          content: [{ type: 'input_text', text: 'older codex task' }],
        },
      }),
      1_700_000_000,
    );
    writeAt(
      join(codex, 'sessions', '2025', '02', '01', `rollout-2025-02-01T09-00-00-${uuid(8)}.jsonl`),
      lines(meta(uuid(8)), context, {
        type: 'event_msg',
        payload: { type: 'user_message', message: 'newer codex task' },
      }),
      1_700_000_500,
    );
    writeAt(join(codex, 'sessions', '2025', '02', '01', 'unrelated.jsonl'), '{}\n', 1_700_000_900);
    const sessions = await scanCodexSessions(codex);
    assert.deepEqual(
      sessions.map((s) => [s.sessionId, s.topic]),
      [
        [uuid(8), 'newer codex task'],
        [uuid(7), 'older codex task'],
      ],
    );
    assert.equal(sessions[0]!.project, undefined);
  });

  it('an absent CLI home is an empty list', async () => {
    assert.deepEqual(await scanClaudeSessions(join(dir, 'nothing')), []);
    assert.deepEqual(await scanCodexSessions(join(dir, 'nothing')), []);
  });
});

describe('session reporter', () => {
  it('posts each agent’s sessions, and a server without the route only costs one warning', async () => {
    const bodies: string[] = [];
    const raw = await startRawServer((_req, res, body) => {
      bodies.push(body);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'Route not found' } }));
    });
    const logs: [LogLevel, string][] = [];
    const session = { sessionId: uuid(1), lastModified: 1, sizeBytes: 2, topic: 't' };
    const reporter = createSessionReporter({
      client: new OutpostClient({
        baseUrl: raw.url,
        token: 'test-token-0123456789',
        fetch: nodeTransport,
      }),
      log: (level, msg) => logs.push([level, msg]),
      runner: 'home',
      scanners: { claude: async () => [session] },
    });
    try {
      await reporter.reportAll();
      await reporter.report('claude');
      await reporter.report('codex'); // no scanner: nothing to report
      assert.deepEqual(
        bodies.map((b) => JSON.parse(b) as unknown),
        [
          { runner: 'home', agent: 'claude', sessions: [session] },
          { runner: 'home', agent: 'claude', sessions: [session] },
        ],
      );
      assert.deepEqual(logs, [
        ['warn', 'could not report recent agent sessions'],
        ['debug', 'could not report recent agent sessions'],
      ]);
    } finally {
      reporter.stop();
      await raw.close();
    }
  });
});
