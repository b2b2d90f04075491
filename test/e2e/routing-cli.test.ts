// End to end: `outpost runners`, and `outpost run/submit` with labels, priority, a start time and
// a concurrency key, against a real server and real runners on loopback.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { RunnerInfo } from '../../src/protocol/auth.ts';
import type { Task } from '../../src/protocol/tasks.ts';
import {
  runCli,
  spawnCli,
  startCluster,
  startDaemon,
  type Cluster,
  type Daemon,
} from '../helpers/processes.ts';

const TOKEN = 'e2e-routing-token-0123456789';

describe('routing from the CLI', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  let gpu: Daemon | undefined;

  before(async () => {
    cluster = await startCluster('plain', TOKEN);
  });
  after(async () => {
    await gpu?.stop();
    await cluster?.close();
  });

  it('lists runners as a table and as JSON', async () => {
    const json = await runCli(['runners', '--json'], cluster.env);
    assert.equal(json.code, 0, json.stderr);
    const { runners } = JSON.parse(json.stdout) as { runners: RunnerInfo[] };
    assert.deepEqual(
      runners.map((r) => [r.name, r.online, r.running, r.labels]),
      [['plain', true, 0, []]],
    );
    const table = await runCli(['runners'], cluster.env);
    assert.match(table.stdout, /^NAME +STATUS +RUNNING +LABELS/);
    assert.match(table.stdout, /\nplain +online +0\/\d+ +- +shell/);
  });

  it('says why `run` waits for labels, then runs once a runner with them starts', async () => {
    const run = spawnCli(['run', '--require-labels', 'gpu', '--', 'echo on-gpu'], cluster.env);
    await run.until(
      () => run.out.stderr.includes('waiting for a runner with labels gpu'),
      'the wait reason',
    );
    gpu = await startDaemon(
      ['runner'],
      {
        ...cluster.env,
        OUTPOST_DATA_DIR: join(cluster.dir, 'gpu'),
        OUTPOST_ROOTS: cluster.dir,
        OUTPOST_RUNNER_NAME: 'gpu-box',
        OUTPOST_LABELS: 'gpu,cuda',
      },
      /polling/,
    );
    assert.equal(await run.exited, 0, run.out.stderr);
    assert.equal(run.out.stdout, 'on-gpu\n');
    const listed = await runCli(['tasks', '--runner', 'gpu-box', '--json'], cluster.env);
    assert.equal((JSON.parse(listed.stdout) as { tasks: Task[] }).tasks.length, 1);
  });

  it('submits with a start time, a priority and a concurrency key', async () => {
    const args = ['submit', '--at', '+1h', '--priority', '7', '--concurrency-key', 'deploy'];
    const res = await runCli([...args, '--json', '--', 'true'], cluster.env);
    assert.equal(res.code, 0, res.stderr);
    const task = JSON.parse(res.stdout) as Task;
    assert.equal(task.state, 'scheduled');
    assert.equal(task.priority, 7);
    assert.deepEqual(task.concurrency, { key: 'deploy', limit: 1 });
    assert.ok(task.runAt > Date.now() + 59 * 60_000, 'about an hour from now');
    const shown = await runCli(['show', task.id], cluster.env);
    assert.match(shown.stdout, /concurrency +deploy \(limit 1\)/);
    assert.equal((await runCli(['cancel', task.id], cluster.env)).code, 0);
  });

  it('refuses bad placement flags before sending anything', async () => {
    const bad: [string[], RegExp][] = [
      [['--priority', '5000'], /--priority must be an integer from -1000 to 1000/],
      [['--at', 'soonish'], /--at must be a time/],
      [['--concurrency-limit', '2'], /--concurrency-limit needs --concurrency-key/],
      [['--concurrency-key', 'k', '--concurrency-limit', '0'], /--concurrency-limit must be/],
    ];
    for (const [flags, message] of bad) {
      const res = await runCli(['submit', ...flags, '--', 'true'], cluster.env);
      assert.equal(res.code, 2, `${flags.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message);
    }
  });
});
