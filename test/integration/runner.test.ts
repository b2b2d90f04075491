// The runner end to end: real server on loopback, real SQLite, real child processes. Leases are
// short (2000 ms, heartbeat 300 ms) so cancel, drain and lease renewal show within seconds.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreateTaskBody, Task } from '../../src/protocol/tasks.ts';
import { OutpostClient } from '../../src/sdk/client.ts';
import { loadRunnerConfig, type RunnerConfig } from '../../src/runner/config.ts';
import { nodeTransport } from '../../src/runner/node-transport.ts';
import { createRunner, type Runner } from '../../src/runner/create-runner.ts';
import { runnerTagPrefix } from '../../src/runner/process-sweep.ts';
import type { LogLevel } from '../../src/runner/runner-log.ts';
import { policyDigest } from '../../src/runner/policy/policy.ts';
import { startRawServer, startTestServer, type TestServer } from '../helpers/server.ts';

const T = { timeout: 20_000 };

interface LogLine {
  level: LogLevel;
  msg: string;
  fields?: Record<string, unknown>;
}

describe('runner', () => {
  let server: TestServer;
  let client: OutpostClient;
  let root: string;
  let dataDir: string;
  let runnerCount = 0;

  before(async () => {
    server = await startTestServer({ leaseMs: 2_000, heartbeatMs: 300 });
    client = new OutpostClient({ baseUrl: server.url, token: server.token });
    root = await mkdtemp(join(tmpdir(), 'outpost-root-'));
    dataDir = await mkdtemp(join(tmpdir(), 'outpost-data-'));
  });
  after(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  function configFor(overrides: Partial<RunnerConfig> = {}): Readonly<RunnerConfig> {
    runnerCount += 1;
    const flags: Partial<RunnerConfig> = {
      serverUrl: server.url,
      token: server.token,
      name: `test-runner-${runnerCount}`,
      capacity: 2,
      longPollMs: 5_000,
      retryBaseMs: 50,
      retryMaxMs: 500,
      roots: [root],
      dataDir,
      killGraceMs: 300,
      drainGraceMs: 10_000,
      ...overrides,
    };
    return loadRunnerConfig({}, { flags });
  }

  /** A runner with its own name (tasks target it, so tests never steal each other's tasks). */
  function startRunner(overrides: Partial<RunnerConfig> = {}, baseUrl = server.url) {
    const config = configFor(overrides);
    const logs: LogLine[] = [];
    const runner = createRunner({
      client: new OutpostClient({ baseUrl, token: config.token, fetch: nodeTransport }),
      config,
      log: (level, msg, fields) => logs.push({ level, msg, fields }),
    });
    return { runner, config, logs };
  }

  const createFor = (runner: string, body: CreateTaskBody): Promise<Task> =>
    client.createTask({ ...body, target: { runner } });

  /** A started runner running one `sleep 30` task: the start of every drain and stop test. */
  async function startSleeping(overrides: Partial<RunnerConfig> = {}) {
    const started = startRunner(overrides);
    const task = await createFor(started.config.name, {
      kind: 'shell',
      spec: { command: 'sleep 30' },
      timeoutMs: 60_000,
    });
    await started.runner.start();
    await untilState(task.id, 'running');
    return { ...started, task };
  }

  async function untilState(id: string, state: Task['state'], withinMs = 5_000): Promise<Task> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const task = await client.getTask(id);
      if (task.state === state) return task;
      if (Date.now() > deadline)
        assert.fail(`task ${id} is ${task.state}, not ${state}, after ${withinMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function untilNoLongPolls(withinMs = 2_000): Promise<void> {
    const deadline = Date.now() + withinMs;
    while ((await client.getStats()).longPolls > 0) {
      if (Date.now() > deadline)
        assert.fail("the runner's claim long poll is still open on the server");
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function withRunner(r: Runner, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } finally {
      await r.stop();
    }
  }

  it('runs shell and file tasks and the client sees their outcomes', T, async () => {
    const { runner, config } = startRunner();
    const file = join(root, 'hello.txt');
    const tasks = [
      await createFor(config.name, { kind: 'shell', spec: { command: 'echo hello' } }),
      await createFor(config.name, { kind: 'shell', spec: { command: 'echo oops >&2; exit 3' } }),
      await createFor(config.name, { kind: 'file.write', spec: { path: file, content: 'abc' } }),
    ];
    await withRunner(runner, async () => {
      await runner.start();
      assert.equal(runner.state, 'running');
      const { runners } = await client.listRunners();
      const listed = runners.find((r) => r.name === config.name);
      assert.equal(listed?.policyDigest, policyDigest(config.policy), 'GET /v1/runners shows it');
      const [ok, failed, written] = await Promise.all(
        tasks.map((t) => client.waitForTask(t.id, { pollMs: 5_000 })),
      );
      assert.equal(ok?.state, 'succeeded');
      assert.equal(ok?.outcome?.stdout, 'hello\n');
      assert.equal(failed?.state, 'failed');
      assert.equal(failed?.outcome?.exitCode, 3);
      assert.equal(failed?.outcome?.stderr, 'oops\n');
      assert.equal(written?.state, 'succeeded');
      const read = await createFor(config.name, { kind: 'file.read', spec: { path: file } });
      const readDone = await client.waitForTask(read.id, { pollMs: 5_000 });
      assert.equal(readDone.state, 'succeeded');
      assert.equal(readDone.outcome?.stdout, 'abc');
    });
    assert.equal(runner.state, 'stopped');
  });

  it('claims in batches up to its capacity and never runs more at once', T, async () => {
    const { runner, config } = startRunner({ capacity: 4 });
    // Each task marks its start and end in one file (O_APPEND keeps the lines whole), so the
    // overlap counted is of the processes themselves; the server also counts finish round trips.
    const marks = join(root, 'overlap.log');
    const command = `echo + >> ${marks}; sleep 0.4; echo - >> ${marks}`;
    const tasks: Task[] = [];
    for (let i = 0; i < 8; i++)
      tasks.push(await createFor(config.name, { kind: 'shell', spec: { command } }));
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, runner.running())), 10);
    await withRunner(runner, async () => {
      await runner.start();
      const done = await Promise.all(
        tasks.map((t) => client.waitForTask(t.id, { pollMs: 10_000 })),
      );
      assert.ok(done.every((t) => t.state === 'succeeded'));
      assert.ok(maxOverlap(done) >= 4, 'the server saw four attempts at a time');
    }).finally(() => clearInterval(sampler));
    assert.equal(most, 4);
    let running = 0;
    let mostRunning = 0;
    for (const mark of (await readFile(marks, 'utf8')).trim().split('\n')) {
      running += mark === '+' ? 1 : -1;
      mostRunning = Math.max(mostRunning, running);
    }
    assert.equal(mostRunning, 4, 'never more than four task processes at once');
  });

  it('keeps a task that outlives its lease alive by heartbeat', T, async () => {
    const { runner, config } = startRunner();
    const task = await createFor(config.name, {
      kind: 'shell',
      spec: { command: 'sleep 2.6; echo still-mine' },
    });
    await withRunner(runner, async () => {
      await runner.start();
      const done = await client.waitForTask(task.id, { pollMs: 10_000 });
      assert.equal(done.state, 'succeeded');
      assert.equal(done.attempt, 1);
      assert.equal(done.outcome?.stdout, 'still-mine\n');
    });
  });

  it('delivers a cancel through the heartbeat and ends the task cancelled quickly', T, async () => {
    const { runner, config } = startRunner();
    const task = await createFor(config.name, {
      kind: 'shell',
      spec: { command: 'sleep 30' },
      timeoutMs: 60_000,
    });
    await withRunner(runner, async () => {
      await runner.start();
      await untilState(task.id, 'running');
      const cancelledAt = Date.now();
      await client.cancelTask(task.id);
      const done = await client.waitForTask(task.id, { pollMs: 10_000 });
      assert.equal(done.state, 'cancelled');
      assert.ok(Date.now() - cancelledAt < 3_000, `took ${Date.now() - cancelledAt} ms`);
      assert.equal(runner.running(), 0);
    });
  });

  it('stops a task whose lease the heartbeat reports lost, and does not report it', T, async () => {
    const { runner, config, logs } = startRunner();
    const task = await createFor(config.name, {
      kind: 'shell',
      spec: { command: 'sleep 30' },
      timeoutMs: 60_000,
    });
    await withRunner(runner, async () => {
      await runner.start();
      await untilState(task.id, 'running');
      // Someone else ends the attempt under the same lease, so the runner's next beat finds it gone.
      const lease = await server.store.getLease(task.id);
      assert.ok(lease);
      const outcome = { status: 'failed' as const, stdout: 'ended elsewhere' };
      await client.finishAttempt({ taskId: task.id, leaseToken: lease.leaseToken, outcome });
      const deadline = Date.now() + 3_000;
      while (runner.running() > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(runner.running(), 0);
      assert.ok(logs.some((l) => l.msg.startsWith('lease lost') && l.fields?.taskId === task.id));
      assert.ok(!logs.some((l) => l.msg === 'task ended' && l.fields?.taskId === task.id));
      assert.equal((await client.getTask(task.id)).outcome?.stdout, 'ended elsewhere');
    });
  });

  it('drain stops claiming, lets a running task finish and says what it ran', T, async () => {
    const { runner, config, logs } = startRunner();
    const first = await createFor(config.name, {
      kind: 'shell',
      spec: { command: 'sleep 0.8; echo done' },
    });
    await runner.start();
    await untilState(first.id, 'running');
    const draining = runner.drain();
    assert.equal(runner.state, 'draining');
    // The aborted claim must reach the server before a new task could be handed to it.
    await untilNoLongPolls();
    const second = await createFor(config.name, { kind: 'shell', spec: { command: 'echo never' } });
    await draining;
    assert.equal(runner.state, 'stopped');
    const done = await client.getTask(first.id);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.outcome?.stdout, 'done\n');
    assert.equal((await client.getTask(second.id)).state, 'queued');
    await client.cancelTask(second.id);
    const summaries = logs.filter((l) => l.msg === 'runner stopped');
    assert.deepEqual(
      summaries.map((l) => l.fields),
      [{ ran: { succeeded: 1 } }],
    );
  });

  it('a restarted runner first stops the processes a killed run of it left behind', T, async () => {
    const config = configFor();
    const tag = (prefix: string) => `${prefix}.task.1.abc`;
    const spawnTagged = (prefix: string) =>
      spawn('sleep', ['30'], {
        detached: true,
        stdio: 'ignore',
        env: { PATH: process.env.PATH, OUTPOST_TASK_TAG: tag(prefix) },
      });
    const leftover = spawnTagged(runnerTagPrefix(config.name, config.dataDir));
    const stranger = spawnTagged(runnerTagPrefix('another-runner', config.dataDir));
    const exited = once(leftover, 'exit');
    const { runner, logs } = startRunner(config);
    await runner.start();
    await exited;
    assert.equal(leftover.signalCode, 'SIGKILL');
    assert.equal(stranger.exitCode, null, "another runner's process is left alone");
    assert.equal(stranger.signalCode, null);
    stranger.kill('SIGKILL');
    assert.ok(
      logs.some((l) => l.msg === 'stopped processes left by an earlier run of this runner'),
    );
    await runner.stop();
  });

  it('drain cancels what is still running when its grace ends', T, async () => {
    const { runner, task } = await startSleeping({ drainGraceMs: 300 });
    const started = Date.now();
    await runner.drain();
    assert.ok(Date.now() - started < 3_000, `drain took ${Date.now() - started} ms`);
    assert.equal((await client.getTask(task.id)).state, 'cancelled');
  });

  it('a stop during a drain cancels at once and the summary is logged once', T, async () => {
    const { runner, task, logs } = await startSleeping({ drainGraceMs: 30_000 });
    const draining = runner.drain();
    const started = Date.now();
    await runner.stop();
    await draining;
    assert.ok(Date.now() - started < 3_000, `stop took ${Date.now() - started} ms`);
    assert.equal((await client.getTask(task.id)).state, 'cancelled');
    const summaries = logs.filter((l) => l.msg === 'runner stopped');
    assert.deepEqual(
      summaries.map((l) => l.fields),
      [{ ran: { cancelled: 1 } }],
    );
  });

  it('stop cancels running tasks at once and still reports them', T, async () => {
    const { runner, task } = await startSleeping();
    const started = Date.now();
    await runner.stop();
    assert.ok(Date.now() - started < 3_000, `stop took ${Date.now() - started} ms`);
    assert.equal(runner.state, 'stopped');
    const done = await client.getTask(task.id);
    assert.equal(done.state, 'cancelled');
  });

  it('backs off when the server answers claims with HTML 500 pages', T, async () => {
    const raw = await startRawServer((req, res) => {
      if (req.url === '/v1/runner/hello') {
        const hello = {
          runner: 'flaky',
          leaseMs: 2_000,
          heartbeatMs: 300,
          serverVersion: 'x',
          serverTime: Date.now(),
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(hello));
        return;
      }
      res
        .writeHead(500, { 'content-type': 'text/html' })
        .end('<html><h1>500 Internal Server Error</h1></html>');
    });
    const { runner, logs } = startRunner({ retryBaseMs: 100, retryMaxMs: 2_000 }, raw.url);
    try {
      await runner.start();
      await new Promise((r) => setTimeout(r, 1_500));
      const claims = raw.requests.filter((r) => r === 'POST /v1/runner/claim').length;
      assert.ok(claims >= 2 && claims < 20, `${claims} claims in 1.5 s`);
      assert.ok(
        logs.some((l) => l.msg.startsWith('claim failed') && l.fields?.code === 'unavailable'),
      );
      const stopping = Date.now();
      await runner.stop();
      assert.ok(Date.now() - stopping < 1_000, 'stop does not wait out a backoff');
    } finally {
      await runner.stop();
      await raw.close();
    }
  });

  it('retries hello with backoff while the server is down, and stop ends the wait', T, async () => {
    const raw = await startRawServer((_req, res) =>
      res.writeHead(502).end('<html>Bad Gateway</html>'),
    );
    const { runner } = startRunner({ retryBaseMs: 100, retryMaxMs: 2_000 }, raw.url);
    try {
      const starting = runner.start();
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(runner.state, 'starting');
      const hellos = raw.requests.length;
      assert.ok(hellos >= 2 && hellos < 20, `${hellos} hellos in 1.5 s`);
      await runner.stop();
      await starting;
      assert.equal(runner.state, 'stopped');
    } finally {
      await raw.close();
    }
  });

  it('logs a refused token clearly and backs off long', T, async () => {
    const { runner, logs } = startRunner({
      token: 'wrong-token-0123456789',
      retryBaseMs: 50,
      retryMaxMs: 5_000,
    });
    const starting = runner.start();
    await new Promise((r) => setTimeout(r, 1_000));
    const refusals = logs.filter((l) => l.level === 'error' && l.fields?.code === 'unauthorized');
    assert.equal(refusals.length, 1, 'one hello in the first second');
    assert.match(refusals[0]?.msg ?? '', /token/);
    await runner.stop();
    await starting;
  });
});

/** The most attempts whose [startedAt, finishedAt] intervals overlap at any moment. */
function maxOverlap(tasks: Task[]): number {
  const edges = tasks.flatMap((t) => [
    { at: t.startedAt ?? 0, delta: 1 },
    { at: t.finishedAt ?? 0, delta: -1 },
  ]);
  // An end and a start at the same ms: count the end first (the slot was freed, then reused).
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let current = 0;
  let most = 0;
  for (const edge of edges) {
    current += edge.delta;
    most = Math.max(most, current);
  }
  return most;
}
