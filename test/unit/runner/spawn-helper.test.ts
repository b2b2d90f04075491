// The spawn helpers that fork task processes off the runner's thread: many children at once, a
// helper killed mid-task, a consumer slower than the task, the in-thread fallback, and the wire.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Launch, LaunchedChild } from '../../../src/runner/child-launch.ts';
import { runProcess, type RunProcessOptions } from '../../../src/runner/process.ts';
import { toShellOutcome } from '../../../src/runner/executors/shell.ts';
import { sweepTaggedProcesses } from '../../../src/runner/process-sweep.ts';
import { FRAME, FrameReader } from '../../../src/runner/spawn-frames.ts';
import { HELPER_LOST } from '../../../src/runner/spawn-helper.ts';
import { SpawnPool } from '../../../src/runner/spawn-pool.ts';
import { groupOf, isAlive, makeTempDir, parsePids, waitFor } from './exec-fixtures.ts';

let dir = '';
let cleanup = (): Promise<void> => Promise.resolve();
before(async () => ({ dir, cleanup } = await makeTempDir()));
after(() => cleanup());

function options(script: string, extra: Partial<RunProcessOptions> = {}): RunProcessOptions {
  return {
    argv: ['/bin/sh', '-c', script],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    timeoutMs: 20_000,
    maxOutputBytes: 1 << 20,
    killGraceMs: 300,
    tag: `test-${Math.random()}`,
    ...extra,
  };
}

function rssMiB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? 0) / 1024;
}

/** The pids a task prints, one per line, once it has printed `count` of them. */
function printedPids(count: number): {
  onOutput: NonNullable<RunProcessOptions['onOutput']>;
  pids: Promise<number[]>;
} {
  let text = '';
  let done = false;
  let found = (_pids: number[]) => {};
  const pids = new Promise<number[]>((res) => (found = res));
  const onOutput = (_stream: string, bytes: Buffer) => {
    if (done) return; // what follows the pids may be large
    text += bytes.toString();
    const seen = parsePids(text);
    if (seen.length < count) return;
    done = true;
    found(seen);
  };
  return { onOutput, pids };
}

/** Kills every process still carrying one of `tags`; returns how many there were. */
async function survivors(tags: string[]): Promise<number> {
  let count = 0;
  for (const tag of tags) count += await sweepTaggedProcesses(tag);
  return count;
}

/** The parent pid of a child launched through `pool`: a helper's, or ours when forked in-thread. */
async function parentOf(pool: SpawnPool): Promise<number> {
  const chunks: Buffer[] = [];
  const launch: Launch = await pool.launch({
    file: '/bin/sh',
    args: ['-c', 'echo $PPID'],
    cwd: dir,
    env: {},
    onOutput: (_stream, bytes) => chunks.push(Buffer.from(bytes)),
  });
  assert.ok('pid' in launch, JSON.stringify(launch));
  const child: LaunchedChild = launch;
  assert.deepEqual(await child.exited, { code: 0, signal: null });
  await child.closed;
  return Number(Buffer.concat(chunks).toString());
}

describe('spawn helpers', () => {
  it('fork outside the runner and keep 64 concurrent children apart', async () => {
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        runProcess(options(`echo $PPID; echo out${i}; echo err${i} >&2; exit ${i % 7}`)),
      ),
    );
    results.forEach((result, i) => {
      const [parent, line] = result.stdout.split('\n');
      assert.notEqual(Number(parent), process.pid, 'a helper, not the runner, is the parent');
      assert.equal(line, `out${i}`);
      assert.equal(result.stderr, `err${i}\n`);
      assert.equal(result.exitCode, i % 7);
    });
  });

  it('relay megabytes from concurrent children byte for byte, each stream apart', async () => {
    const up = Array.from({ length: 300_000 }, (_, i) => `${i + 1}\n`).join('');
    const down = Array.from({ length: 300_000 }, (_, i) => `${300_000 - i}\n`).join('');
    const runs = Array.from({ length: 8 }, async (_, i) => {
      const seen = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
      const result = await runProcess(
        options(`seq 1 300000; seq 300000 -1 1 >&2; exit ${i}`, {
          onOutput: (stream, bytes) => seen[stream].push(Buffer.from(bytes)),
        }),
      );
      assert.equal(result.exitCode, i);
      assert.equal(Buffer.concat(seen.stdout).toString(), up);
      assert.equal(Buffer.concat(seen.stderr).toString(), down);
      assert.equal(result.stdoutBytes, up.length);
    });
    await Promise.all(runs);
  });

  it('run in a process group of their own, out of reach of a Ctrl-C to the runner', async () => {
    const result = await runProcess(options('echo $PPID; sleep 0.2'));
    const helper = Number(result.stdout.trim());
    assert.ok(isAlive(helper), 'the helper outlives the task');
    assert.notEqual(groupOf(helper), groupOf(process.pid));
  });

  it(
    'report a running task lost when its helper dies, stop its tree, and start another helper',
    { timeout: 30_000 },
    async () => {
      const { onOutput, pids } = printedPids(2);
      const running = runProcess(options('echo $PPID; sleep 30 & echo $!; wait', { onOutput }));
      const [helper, sleeper] = await pids;
      assert.ok(helper !== undefined && sleeper !== undefined);
      process.kill(helper, 'SIGKILL');
      const result = await running;
      assert.match(result.lost ?? '', /spawn helper \(pid \d+\) was killed by SIGKILL/);
      assert.equal(isAlive(sleeper), false, 'the lost tree is stopped');
      const outcome = toShellOutcome(result, 20_000, 1);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.error?.kind, 'internal');
      assert.match(outcome.error?.message ?? '', /^lost track of the process: the spawn helper/);
      const next = await runProcess(options('echo $PPID'));
      assert.equal(next.exitCode, 0);
      assert.ok(![helper, process.pid].includes(Number(next.stdout.trim())));
    },
  );

  it(
    'settle every launch in flight when a helper dies, leaving no process behind',
    { timeout: 30_000 },
    async () => {
      const tags = Array.from({ length: 24 }, (_, i) => `test-burst-${i}-${Math.random()}`);
      const stops = tags.map(() => new AbortController());
      const { onOutput, pids } = printedPids(1);
      const runs = tags.map((tag, i) =>
        runProcess(
          options('echo $PPID; exec sleep 30', {
            tag,
            signal: stops[i]!.signal,
            ...(i === 0 ? { onOutput } : {}),
          }),
        ),
      );
      const [helper] = await pids;
      process.kill(helper!, 'SIGKILL');
      // The tasks the other helper started run on: cancel them.
      setTimeout(() => stops.forEach((stop) => stop.abort()), 300);
      const results = await Promise.all(runs);
      for (const result of results) {
        const settled =
          result.lost !== undefined ||
          result.spawnError?.code === HELPER_LOST ||
          result.cancelled ||
          result.exitCode !== null;
        assert.ok(settled, JSON.stringify(result));
      }
      assert.ok(results.some((r) => r.lost !== undefined || r.spawnError !== undefined));
      assert.equal(await survivors(tags), 0, 'no task process survives');
    },
  );

  it(
    'slow the task, not memory, when the runner takes its output slower than it prints',
    { timeout: 60_000 },
    async () => {
      // Unbounded, the helper would hold most of this; bounded, it grows by its pipe reads' garbage.
      const total = 250_000_000;
      const { onOutput: findHelper, pids } = printedPids(1);
      let helper = 0;
      void pids.then(([pid]) => (helper = pid ?? 0));
      const baseline = process.memoryUsage().rss / 2 ** 20;
      let helperBaseline = 0;
      const peak = { runner: 0, helper: 0 };
      const sampler = setInterval(() => {
        peak.runner = Math.max(peak.runner, process.memoryUsage().rss / 2 ** 20 - baseline);
        if (helper === 0) return;
        helperBaseline ||= rssMiB(helper);
        peak.helper = Math.max(peak.helper, rssMiB(helper) - helperBaseline);
      }, 10);
      const result = await runProcess(
        options(`echo $PPID; sleep 0.2; head -c ${total} /dev/zero`, {
          onOutput: (stream, bytes) => {
            findHelper(stream, bytes);
            const until = performance.now() + 0.3; // a runner busy with other work
            while (performance.now() < until);
          },
        }),
      );
      clearInterval(sampler);
      assert.equal(result.exitCode, 0);
      assert.equal(result.stdoutBytes, total + String(helper).length + 1);
      assert.ok(peak.helper < 80, `the helper grew by ${peak.helper.toFixed(1)} MiB`);
      assert.ok(peak.runner < 100, `the runner grew by ${peak.runner.toFixed(1)} MiB`);
    },
  );

  it('fork on the runner thread when no helper can start', async () => {
    const pool = new SpawnPool({ size: 1, execPath: '/nonexistent/node', retryMs: 60_000 });
    assert.equal(await parentOf(pool), process.pid);
    assert.equal(await parentOf(pool), process.pid, 'and do not retry at once');
  });

  it('fork on the runner thread when no channel to a helper can be made', async () => {
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = '/nonexistent/tmp'; // where the channel's socket file would go
    try {
      const pool = new SpawnPool({ size: 1, execPath: process.execPath, retryMs: 60_000 });
      assert.equal(await parentOf(pool), process.pid);
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
  });

  it('start a second helper only once forks overlap', { timeout: 30_000 }, async () => {
    const pool = new SpawnPool({ size: 2, execPath: process.execPath, retryMs: 60_000 });
    const one = new Set<number>();
    for (let i = 0; i < 5; i++) one.add(await parentOf(pool));
    assert.equal(one.size, 1, 'one task at a time needs one helper');
    const all = new Set(one);
    const loop = async () => {
      for (let i = 0; i < 8; i++) all.add(await parentOf(pool));
    };
    await Promise.all(Array.from({ length: 16 }, loop));
    assert.equal(all.size, 2, `parents: ${[...all].join(', ')}`);
    assert.ok(!all.has(process.pid));
  });

  it('let the runner exit on its own, and end with it', { timeout: 30_000 }, async () => {
    const script = [
      `import { runProcess } from ${JSON.stringify(new URL('../../../src/runner/process.ts', import.meta.url).pathname)};`,
      "const r = await runProcess({ argv: ['/bin/sh', '-c', 'echo $PPID'], cwd: '/', env: {},",
      "  timeoutMs: 5000, maxOutputBytes: 1024, killGraceMs: 100, tag: 'exit-test' });",
      'process.stdout.write(r.stdout);',
    ].join('\n');
    const runner = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    runner.stdout.on('data', (bytes: Buffer) => (out += bytes.toString()));
    const [code] = (await once(runner, 'exit')) as [number | null];
    assert.equal(code, 0);
    const helper = Number(out.trim());
    assert.ok(helper > 0 && helper !== runner.pid, `a helper forked the task: ${out}`);
    assert.ok(await waitFor(() => !isAlive(helper), 5_000), 'the helper ends with its runner');
  });
});

describe('FrameReader', () => {
  it('reassembles frames cut at any byte, from a reused read buffer, output piece by piece', () => {
    const frames: [number, number, Buffer][] = [
      [FRAME.ready, 0, Buffer.alloc(0)],
      [FRAME.started, 7, Buffer.from('{"pid":42}')],
      [FRAME.stdout, 7, Buffer.alloc(200_000, 'x')],
      [FRAME.stderr, 9, Buffer.from('err')],
      [FRAME.closed, 7, Buffer.alloc(0)],
    ];
    const wire = Buffer.concat(
      frames.map(([type, id, payload]) => {
        const head = Buffer.alloc(9);
        head.writeUInt32LE(payload.length, 0);
        head[4] = type;
        head.writeUInt32LE(id, 5);
        return Buffer.concat([head, payload]);
      }),
    );
    for (const cut of [1, 5, 9, 10, 4096, 65_536, wire.length]) {
      const seen: [number, number, Buffer][] = [];
      let pieces = 0;
      const reader = new FrameReader((type, id, payload) => {
        pieces += 1;
        const last = seen.at(-1);
        const isOutput = type === FRAME.stdout || type === FRAME.stderr;
        if (isOutput && last?.[0] === type && last[1] === id)
          last[2] = Buffer.concat([last[2], payload]);
        else seen.push([type, id, Buffer.from(payload)]);
      });
      // Each cut arrives in one buffer, overwritten by the next, as the runner's channel reads.
      const scratch = Buffer.alloc(cut);
      for (let at = 0; at < wire.length; at += cut) {
        const size = wire.copy(scratch, 0, at, at + cut);
        reader.push(scratch.subarray(0, size));
        scratch.fill(0xff);
      }
      assert.deepEqual(seen, frames, `cut every ${cut} bytes`);
      if (cut >= wire.length) assert.equal(pieces, frames.length, 'one call per whole frame');
    }
  });
});
