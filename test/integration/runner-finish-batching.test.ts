// The runner coalesces outcomes: tasks that end while a finish request is in flight leave together
// in one batch when it returns, and none is lost. Real server on loopback, real child processes;
// the runner's transport counts the finish requests it sends (and slows them, as a distant server
// would, so the tasks reliably end while one is in flight).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutpostClient } from '../../src/sdk/client.ts';
import type { FetchLike } from '../../src/sdk/http.ts';
import { loadRunnerConfig } from '../../src/runner/config.ts';
import { nodeTransport } from '../../src/runner/node-transport.ts';
import { createRunner } from '../../src/runner/create-runner.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const T = { timeout: 20_000 };
const TASKS = 8;

describe('runner finish batching', () => {
  let server: TestServer;
  let client: OutpostClient;
  let root: string;
  let dataDir: string;

  before(async () => {
    server = await startTestServer({ leaseMs: 5_000, heartbeatMs: 1_000 });
    client = new OutpostClient({ baseUrl: server.url, token: server.token });
    root = await mkdtemp(join(tmpdir(), 'outpost-root-'));
    dataDir = await mkdtemp(join(tmpdir(), 'outpost-data-'));
  });
  after(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * nodeTransport that records each finish body (batch size, 0 for a single body) and holds its
   * reply back by `delayMs`. With `oldServer`, a batch is answered 400 as a server from before
   * batching does (`results` is an unknown field there) and never reaches the server.
   */
  function countingTransport(delayMs: number, oldServer = false) {
    const finishes: number[] = [];
    const fetch: FetchLike = async (url, init) => {
      if (!url.endsWith('/v1/runner/finish')) return nodeTransport(url, init);
      const body = JSON.parse(init.body ?? '{}') as { results?: unknown[] };
      finishes.push(body.results?.length ?? 0);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (oldServer && body.results !== undefined) {
        const error = { code: 'bad_request', message: 'body.results: unknown field' };
        return { status: 400, text: async () => JSON.stringify({ error }) };
      }
      return nodeTransport(url, init);
    };
    return { fetch, finishes };
  }

  async function runTasks(name: string, fetch: FetchLike): Promise<void> {
    const config = loadRunnerConfig(
      {},
      {
        flags: {
          serverUrl: server.url,
          token: server.token,
          name,
          capacity: TASKS,
          roots: [root],
          dataDir,
          retryBaseMs: 50,
          retryMaxMs: 500,
        },
      },
    );
    const runner = createRunner({
      client: new OutpostClient({ baseUrl: server.url, token: server.token, fetch }),
      config,
      log: () => {},
    });
    const tasks = [];
    for (let i = 0; i < TASKS; i++) {
      const spec = { command: ['sh', '-c', `echo task-${i}`] };
      tasks.push(await client.createTask({ kind: 'shell', spec, target: { runner: name } }));
    }
    try {
      await runner.start();
      const ended = await Promise.all(tasks.map((t) => client.waitForTask(t.id)));
      for (const [i, task] of ended.entries()) {
        assert.equal(task.state, 'succeeded', `task ${i}`);
        assert.equal(task.outcome?.stdout, `task-${i}\n`, 'each outcome reached its own task');
      }
    } finally {
      await runner.stop();
    }
  }

  it('sends the outcomes of tasks that end together in fewer requests', T, async () => {
    const { fetch, finishes } = countingTransport(150);
    await runTasks('batching-runner', fetch);
    const shown = JSON.stringify(finishes);
    const reported = finishes.reduce((sum, size) => sum + Math.max(size, 1), 0);
    assert.equal(reported, TASKS, `every outcome sent once: ${shown}`);
    assert.ok(finishes.length < TASKS, `${finishes.length} finish requests for ${TASKS} tasks`);
    assert.ok(
      finishes.some((size) => size > 1),
      `some went as a batch: ${shown}`,
    );
    assert.equal(finishes[0], 0, 'the first outcome went at once, as a single body');
  });

  it('falls back to one outcome per request for a server from before batching', T, async () => {
    const { fetch, finishes } = countingTransport(150, true);
    await runTasks('old-server-runner', fetch);
    const batches = finishes.filter((size) => size > 0);
    assert.equal(batches.length, 1, `one batch tried, then no more: ${JSON.stringify(finishes)}`);
    assert.equal(finishes.filter((size) => size === 0).length, TASKS, 'each outcome sent singly');
  });
});
