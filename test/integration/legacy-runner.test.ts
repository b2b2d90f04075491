// An unmodified-style OpenClaw runner (test/fixtures/legacy-runner.mjs), spawned as a real child
// process against a listening server, runs tasks submitted through both the legacy and v1 APIs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN, buildTestApp, type TestApp } from '../helpers/app.ts';
import { QUEUE_KEY } from '../../src/server/queue/waiters.ts';
import type { Task } from '../../src/protocol/tasks.ts';

const RUNNER = fileURLToPath(new URL('../fixtures/legacy-runner.mjs', import.meta.url));

interface LegacyResult {
  taskId: string;
  stdout: string;
  stderr: string;
  exitCode: number;
  error: string | null;
  completedAt: number;
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

function spawnRunner(url: string, env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [RUNNER], {
    env: {
      PATH: process.env.PATH ?? '',
      WORKER_URL: url,
      WORKER_TOKEN: ADMIN_TOKEN,
      LONG_POLL_WAIT: '5000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, exited, output: () => output };
}

/** Resolves once `n` long polls wait on the queue, i.e. the runner is idle and polling. */
async function untilPolling(t: TestApp, n = 1): Promise<void> {
  while (t.app.tasks.hub.count(QUEUE_KEY) < n) await new Promise((r) => setTimeout(r, 10));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('an old-style runner against Outpost', () => {
  let t: TestApp;
  let url: string;
  let dir: string;
  before(async () => {
    t = await buildTestApp();
    url = await t.app.listen({ host: '127.0.0.1', port: 0 });
    dir = mkdtempSync(join(tmpdir(), 'outpost-legacy-runner-'));
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const res = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    assert.ok(res.ok, `${method} ${path}: HTTP ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const submit = async (path: string, body: unknown) =>
    (await call<{ taskId: string }>('POST', path, body)).taskId;
  const result = (id: string) => call<LegacyResult>('GET', `/tasks/${id}?wait=30000`);

  it('runs legacy and v1 tasks and a client reads the results through both APIs', async () => {
    const note = join(dir, 'sub', 'note.txt');
    const runner = spawnRunner(url, { MAX_TASKS: '7' });
    try {
      await withTimeout(untilPolling(t), 10_000, 'runner polling');

      // Independent tasks go in together; the runner picks them up in any order.
      const echo = await submit('/tasks', { command: 'echo hi-legacy' });
      const fail = await submit('/tasks', { command: 'echo oops >&2; exit 3', timeout: 10_000 });
      const v1 = (
        await call<Task>('POST', '/v1/tasks', { kind: 'shell', spec: { command: 'echo hi' } })
      ).id;
      const echoed = await result(echo);
      assert.deepEqual(
        [echoed.taskId, echoed.stdout, echoed.exitCode, echoed.error],
        [echo, 'hi-legacy\n', 0, null],
      );
      const failed = await result(fail);
      assert.equal(failed.exitCode, 3);
      assert.equal(failed.stderr, 'oops\n');
      assert.equal(typeof failed.error, 'string');
      const fromV1 = await result(v1);
      assert.deepEqual([fromV1.stdout, fromV1.exitCode], ['hi\n', 0]);
      const v1Task = await call<Task>('GET', `/v1/tasks/${v1}?wait=30000`);
      assert.equal(v1Task.state, 'succeeded');
      assert.equal(v1Task.outcome?.stdout, 'hi\n');
      assert.equal(v1Task.runner, 'legacy-worker');

      // File tasks depend on each other, so each waits for the one before.
      const write = await submit('/files/write', { path: note, content: 'hello old world' });
      assert.equal((await result(write)).stdout, `File written: ${note}`);
      const edit = await submit('/files/edit', {
        path: note,
        old_string: 'old',
        new_string: 'new $&',
      });
      assert.equal((await result(edit)).exitCode, 0);
      const read = await submit('/files/read', { path: note });
      assert.equal((await result(read)).stdout, 'hello new $& world');
      const binary = join(dir, 'b64.txt');
      const b64 = await submit('/files/write', {
        path: binary,
        content: Buffer.from('bytes!').toString('base64'),
        encoding: 'base64',
      });
      assert.equal((await result(b64)).exitCode, 0);
      assert.equal(readFileSync(binary, 'utf8'), 'bytes!');
      assert.equal((await call<Task>('GET', `/v1/tasks/${read}`)).state, 'succeeded');

      assert.equal(
        await withTimeout(runner.exited, 15_000, 'runner exit after MAX_TASKS'),
        0,
        runner.output(),
      );
    } finally {
      runner.child.kill('SIGKILL');
    }
  });

  it('reports a failed file edit with a non-zero exit code', async () => {
    const file = join(dir, 'plain.txt');
    writeFileSync(file, 'nothing to see');
    const runner = spawnRunner(url, { MAX_TASKS: '1' });
    try {
      const edit = await submit('/files/edit', {
        path: file,
        old_string: 'absent',
        new_string: 'x',
      });
      const res = await result(edit);
      assert.equal(res.exitCode, 1);
      assert.match(res.error ?? '', /not found/);
      assert.equal((await call<Task>('GET', `/v1/tasks/${edit}`)).state, 'failed');
      assert.equal(await withTimeout(runner.exited, 15_000, 'runner exit'), 0, runner.output());
    } finally {
      runner.child.kill('SIGKILL');
    }
  });

  it('stops on SIGTERM while long-polling, releasing its poll', async () => {
    const runner = spawnRunner(url, { LONG_POLL_WAIT: '60000' });
    try {
      await withTimeout(untilPolling(t), 10_000, 'runner polling');
      runner.child.kill('SIGTERM');
      assert.equal(
        await withTimeout(runner.exited, 10_000, 'runner exit on SIGTERM'),
        0,
        runner.output(),
      );
      // The server notices the dropped connection and releases the waiter, handing out nothing.
      await withTimeout(
        (async () => {
          while (t.app.tasks.hub.count(QUEUE_KEY) > 0) await new Promise((r) => setTimeout(r, 10));
        })(),
        10_000,
        'poll released',
      );
    } finally {
      runner.child.kill('SIGKILL');
    }
  });
});
