// End to end: `outpost serve` and `outpost runner` as real processes on loopback, driven by
// `outpost run` and by curl-style HTTP against both APIs, as the README shows.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { runCli, startCluster, type Cluster } from '../helpers/processes.ts';

const TOKEN = 'e2e-token-0123456789abcdef';

describe('outpost serve + outpost runner + outpost run', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  let dir: string;
  let url: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    cluster = await startCluster('e2e', TOKEN);
    ({ dir, url, env } = cluster);
  });

  after(() => cluster?.close());

  it('runs a command remotely with separate streams and the remote exit code', async () => {
    const res = await runCli(['run', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], env);
    assert.equal(res.stdout, 'out\n');
    assert.equal(res.stderr, 'err\n');
    assert.equal(res.code, 3);
  });

  it('runs a one-string command through the runner shell and targets a runner by name', async () => {
    const res = await runCli(['run', '--runner', 'e2e', '--', 'echo hi && echo there'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'hi\nthere\n');
  });

  it('answers a bot using curl-style HTTP on the v1 and the legacy API', async () => {
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const v1 = await fetch(`${url}/v1/tasks?wait=30000`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ kind: 'shell', spec: { command: 'echo v1' } }),
    });
    const task = (await v1.json()) as { state: string; outcome: { stdout: string } };
    assert.equal(task.state, 'succeeded');
    assert.equal(task.outcome.stdout, 'v1\n');
    const legacy = await fetch(`${url}/tasks`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ command: 'echo legacy' }),
    });
    const { taskId } = (await legacy.json()) as { taskId: string };
    const result = (await (
      await fetch(`${url}/tasks/${taskId}?wait=30000`, { headers })
    ).json()) as { stdout: string; exitCode: number };
    assert.deepEqual([result.stdout, result.exitCode], ['legacy\n', 0]);
  });

  it('lists, shows and submits tasks from the CLI', async () => {
    const submitted = await runCli(['submit', '--', 'echo queued'], env);
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = submitted.stdout.trim();
    const shown = await runCli(['show', id, '--wait', '30s', '--json'], env);
    assert.equal((JSON.parse(shown.stdout) as { state: string }).state, 'succeeded');
    const table = await runCli(['show', id], env);
    assert.match(table.stdout, /attempt 1 +e2e at .*, succeeded/);
    const listed = await runCli(['tasks', '--limit', '5'], env);
    assert.match(listed.stdout, new RegExp(id));
  });

  it('cancels a running command and waits until its process tree has stopped', async () => {
    const marker = join(dir, 'cancel-started');
    const submitted = await runCli(['submit', '--', `touch ${marker}; sleep 30`], env);
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = submitted.stdout.trim();
    const deadline = Date.now() + 20_000;
    while (!existsSync(marker) && Date.now() < deadline) await delay(50);
    assert.ok(existsSync(marker), 'the command started');
    const cancelled = await runCli(['cancel', id], env);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.match(cancelled.stdout, /cancelled \(cancelled; the process tree was stopped\)/);
    const shown = await runCli(['show', id, '--json'], env);
    assert.equal((JSON.parse(shown.stdout) as { state: string }).state, 'cancelled');
  });

  it('stops with one clear message for a bad setting', async () => {
    const res = await runCli(['run', '--timeout', 'soon', '--', 'true'], env);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--timeout/);
  });
});
