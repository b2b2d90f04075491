// runProcess and the shell executor's stop ladder, with real process trees: timeouts, cancels,
// escapees that called setsid, signal deaths, and output far past the cap.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { executeTask } from '../../../src/runner/executors/index.ts';
import { runProcess, type RunProcessOptions } from '../../../src/runner/process.ts';
import {
  groupOf,
  isAlive,
  makeCtx,
  makeSettings,
  makeTempDir,
  parsePids,
} from './exec-fixtures.ts';

let dir = '';
let cleanup = (): Promise<void> => Promise.resolve();
before(async () => ({ dir, cleanup } = await makeTempDir()));
after(() => cleanup());

function options(argv: string[], extra: Partial<RunProcessOptions> = {}): RunProcessOptions {
  return {
    argv,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    timeoutMs: 10_000,
    maxOutputBytes: 1 << 20,
    killGraceMs: 300,
    tag: `test-${Math.random()}`,
    ...extra,
  };
}

async function readPids(file: string): Promise<number[]> {
  return parsePids(await readFile(file, 'utf8').catch(() => ''));
}

describe('runProcess', () => {
  it(
    'kills the whole tree on timeout, including a grandchild that ignores SIGTERM',
    { timeout: 20_000 },
    async () => {
      const pidFile = join(dir, 'timeout.pids');
      const script = [
        'echo $$ >> "$PIDS"',
        `sh -c 'trap "" TERM; echo $$ >> "$PIDS"; sleep 30 & echo $! >> "$PIDS"; wait' &`,
        'sleep 30 & echo $! >> "$PIDS"',
        'wait',
      ].join('\n');
      const settings = makeSettings([dir]);
      const ctx = makeCtx(settings, { timeoutMs: 1_000 });
      const outcome = await executeTask('shell', { command: script, env: { PIDS: pidFile } }, ctx);
      assert.equal(outcome.status, 'timed_out');
      assert.equal(outcome.error?.kind, 'timeout');
      const pids = await readPids(pidFile);
      assert.ok(pids.length >= 4, `expected the tree's pids, got ${pids.join(',')}`);
      assert.deepEqual(pids.filter(isAlive), [], 'no process of the tree may survive');
    },
  );

  it(
    'kills a cancelled tree, including a child that left the group with setsid',
    { timeout: 20_000 },
    async () => {
      const pidFile = join(dir, 'cancel.pids');
      const script = [
        'echo $$ >> "$PIDS"',
        `setsid sh -c 'echo $$ >> "$PIDS"; exec sleep 30' &`,
        'sleep 30 & echo $! >> "$PIDS"',
        'wait',
      ].join('\n');
      const abort = new AbortController();
      const ctx = makeCtx(makeSettings([dir]), { signal: abort.signal, timeoutMs: 30_000 });
      const running = executeTask('shell', { command: script, env: { PIDS: pidFile } }, ctx);
      let pids: number[] = [];
      for (let i = 0; i < 250 && pids.length < 3; i++) {
        pids = await readPids(pidFile);
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.equal(pids.length, 3, `tree did not start: ${pids.join(',')}`);
      const [leader] = pids;
      assert.ok(
        pids.some((pid) => isAlive(pid) && groupOf(pid) !== leader),
        'one process must have left the group',
      );
      abort.abort();
      const outcome = await running;
      assert.equal(outcome.status, 'cancelled');
      assert.equal(outcome.error?.kind, 'cancelled');
      assert.deepEqual(
        pids.filter(isAlive),
        [],
        'no process of the tree may survive, escapee included',
      );
    },
  );

  it('reports a signal death as non-zero', { timeout: 20_000 }, async () => {
    const result = await runProcess(options(['/bin/sh', '-c', 'kill -KILL $$']));
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGKILL');
    const outcome = await executeTask(
      'shell',
      { command: 'kill -TERM $$' },
      makeCtx(makeSettings([dir])),
    );
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.exitCode, 143);
    assert.equal(outcome.signal, 'SIGTERM');
    assert.equal(outcome.error?.kind, 'exit');
    assert.equal(outcome.error?.exitCode, 143);
  });

  it(
    'caps output with a marker and byte counts while memory stays flat',
    { timeout: 20_000 },
    async () => {
      const total = 200_000_000;
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
      const script = `head -c ${total / 2} /dev/zero; printf END; head -c ${total / 2 - 3} /dev/zero`;
      const result = await runProcess(options(['/bin/sh', '-c', `printf START; ${script}`]));
      clearInterval(sampler);
      assert.equal(result.exitCode, 0);
      assert.equal(result.stdoutBytes, total + 5);
      assert.equal(result.truncated, true);
      const omitted = total + 5 - (1 << 20);
      const marker = `\n[outpost: ${omitted} bytes of output left out here; the head and the tail are kept]\n`;
      assert.ok(result.stdout.startsWith('START\0'), 'the head is kept');
      assert.ok(result.stdout.includes(marker));
      assert.equal(result.stdout.length, (1 << 20) + marker.length);
      assert.ok(!result.stdout.includes('END'), 'the middle is left out');
      const grewMb = (peak - baseline) / 1e6;
      assert.ok(
        grewMb < 100,
        `rss grew by ${grewMb.toFixed(1)} MB while ${total / 1e6} MB went through`,
      );
    },
  );

  it('keeps stdout and stderr apart and counts each', async () => {
    const result = await runProcess(options(['/bin/sh', '-c', 'echo out; echo err >&2; printf é']));
    assert.equal(result.stdout, 'out\né');
    assert.equal(result.stderr, 'err\n');
    assert.equal(result.stdoutBytes, 6);
    assert.equal(result.stderrBytes, 4);
    assert.equal(result.truncated, false);
  });

  it('keeps the head and the tail, cutting characters split at either edge', async () => {
    const result = await runProcess(
      options(['/bin/sh', '-c', 'printf aéxxxxéb'], { maxOutputBytes: 5 }),
    );
    // 10 bytes. Head: "aé" (3 bytes); tail: the last 2 bytes, "\xa9b", lose the half of é.
    assert.equal(
      result.stdout,
      'aé\n[outpost: 6 bytes of output left out here; the head and the tail are kept]\nb',
    );
  });

  it('hands every byte of each stream to onOutput, past the in-memory cap too', async () => {
    const seen = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const result = await runProcess(
      options(['/bin/sh', '-c', 'head -c 100000 /dev/zero | tr "\\0" o; echo err >&2'], {
        maxOutputBytes: 1024,
        onOutput: (stream, bytes) => seen[stream].push(Buffer.from(bytes)),
      }),
    );
    assert.equal(result.truncated, true, 'the outcome keeps its 1 KiB cap');
    assert.equal(Buffer.concat(seen.stdout).toString(), 'o'.repeat(100_000));
    assert.equal(Buffer.concat(seen.stderr).toString(), 'err\n');
  });

  it('stops what a finished command left running in its group', { timeout: 20_000 }, async () => {
    const result = await runProcess(options(['/bin/sh', '-c', 'sleep 30 & echo $!']));
    assert.equal(result.exitCode, 0);
    const [orphan] = parsePids(result.stdout);
    assert.ok(orphan !== undefined);
    assert.equal(isAlive(orphan), false);
  });

  it('reports a missing program as a spawn error', async () => {
    const result = await runProcess(options(['/nonexistent/program']));
    assert.equal(result.spawnError?.code, 'ENOENT');
    assert.equal(result.exitCode, null);
  });

  it('does not start when already aborted', async () => {
    const abort = new AbortController();
    abort.abort();
    const result = await runProcess(
      options(['/bin/sh', '-c', 'echo ran'], { signal: abort.signal }),
    );
    assert.equal(result.cancelled, true);
    assert.equal(result.stdout, '');
  });
});
