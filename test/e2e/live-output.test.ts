// End to end: live output from a real runner to `outpost run` and `outpost logs -f` while the
// task is still running, and Ctrl-C on `outpost run` (cancel, then detach).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  runCli,
  spawnCli as spawnProcess,
  startCluster,
  type Cluster,
} from '../helpers/processes.ts';

const TOKEN = 'live-token-0123456789abcdef';

describe('live output end to end', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  let url: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    cluster = await startCluster('live', TOKEN);
    ({ url, env } = cluster);
  });

  after(() => cluster?.close());

  const taskState = async (id: string): Promise<string> => {
    const res = await fetch(`${url}/v1/tasks/${id}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return ((await res.json()) as { state: string }).state;
  };

  const spawnCli = (args: string[]) => spawnProcess(args, env);

  it('outpost run shows the first line while the task still runs', async () => {
    const run = spawnCli(['run', '--', 'echo first; echo oops >&2; sleep 3; echo second']);
    await run.until(() => run.out.stdout.includes('first\n'), 'the first line');
    const running = await fetch(`${url}/v1/tasks?state=running`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const { tasks } = (await running.json()) as { tasks: unknown[] };
    assert.equal(tasks.length, 1, 'the task is still running');
    assert.equal(run.out.stdout, 'first\n', 'the second line has not been printed yet');
    assert.equal(await run.exited, 0);
    assert.equal(run.out.stdout, 'first\nsecond\n');
    assert.equal(run.out.stderr, 'oops\n');
  });

  it('outpost logs -f follows a task to its end, and --json gives one chunk per line', async () => {
    const submitted = await runCli(['submit', '--', 'echo a; sleep 1; echo b'], env);
    const id = submitted.stdout.trim();
    const follow = await runCli(['logs', id, '-f'], env);
    assert.equal(follow.code, 0, follow.stderr);
    assert.equal(follow.stdout, 'a\nb\n');
    assert.equal(await taskState(id), 'succeeded');
    const json = await runCli(['logs', id, '--json'], env);
    const chunks = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; stream: string; data: string });
    assert.equal(chunks.map((c) => c.data).join(''), 'a\nb\n');
    assert.deepEqual(
      chunks.map((c) => c.seq),
      chunks.map((_, i) => i + 1),
    );
  });

  it('keeps output that is not UTF-8 byte for byte, and prints it raw', async () => {
    const submitted = await runCli(['submit', '--', "printf '\\377\\376ok\\n'"], env);
    const id = submitted.stdout.trim();
    const json = await runCli(['logs', id, '-f', '--json'], env);
    const chunks = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { data: string; encoding?: string });
    const bytes = Buffer.concat(
      chunks.map((c) => Buffer.from(c.data, c.encoding === 'base64' ? 'base64' : 'utf8')),
    );
    assert.deepEqual([...bytes], [0xff, 0xfe, 0x6f, 0x6b, 0x0a]);
    assert.ok(chunks.some((c) => c.encoding === 'base64'));
    const raw = spawnCli(['logs', id]);
    const rawBytes: Buffer[] = [];
    raw.child.stdout?.on('data', (d: Buffer) => rawBytes.push(d));
    assert.equal(await raw.exited, 0);
    assert.deepEqual([...Buffer.concat(rawBytes)], [0xff, 0xfe, 0x6f, 0x6b, 0x0a]);
  });

  it('the first Ctrl-C cancels the remote task, the second detaches', async () => {
    const run = spawnCli(['run', '--', 'echo started; sleep 30']);
    await run.until(() => run.out.stdout.includes('started'), 'the task to start');
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130);
    assert.match(run.out.stderr, /cancelling task/);
    const detached = spawnCli(['run', '--', 'echo again; sleep 30']);
    await detached.until(() => detached.out.stdout.includes('again'), 'the second task');
    detached.child.kill('SIGINT');
    await detached.until(() => detached.out.stderr.includes('cancelling'), 'the cancel');
    detached.child.kill('SIGINT');
    // The runner hears of the cancel at its next heartbeat (seconds away): this is a detach.
    assert.equal(await detached.exited, 130);
    assert.match(detached.out.stderr, /detached; task \S+ goes on/);
  });
});
