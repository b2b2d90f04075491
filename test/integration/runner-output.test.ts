// Live output end to end: a real runner runs real shell tasks against the real server, behind a
// proxy that stores POST /v1/runner/logs idempotently by seq and can fail, as the real route will.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Task } from '../../src/protocol/tasks.ts';
import { OutpostClient } from '../../src/sdk/client.ts';
import { loadRunnerConfig, type RunnerConfig } from '../../src/runner/config.ts';
import { nodeTransport } from '../../src/runner/node-transport.ts';
import { createRunner, type Runner } from '../../src/runner/create-runner.ts';
import type { LogLevel } from '../../src/runner/runner-log.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import {
  startOutputServer,
  type OutputServer,
  type OutputServerOptions,
  type StoredChunk,
} from '../helpers/output-server.ts';

const T = { timeout: 30_000 };
const MiB = 1024 * 1024;

interface Started {
  runner: Runner;
  proxy: OutputServer;
  config: Readonly<RunnerConfig>;
  logs: { level: LogLevel; msg: string }[];
}

describe('runner live output', () => {
  let server: TestServer;
  let client: OutpostClient;
  let root: string;
  let runnerCount = 0;
  const running: Started[] = [];

  before(async () => {
    server = await startTestServer({ leaseMs: 2_000, heartbeatMs: 300 });
    client = new OutpostClient({ baseUrl: server.url, token: server.token });
    root = await mkdtemp(join(tmpdir(), 'outpost-output-'));
  });
  after(async () => {
    for (const { runner, proxy } of running) {
      await runner.stop();
      await proxy.close();
    }
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A started runner with its own name and data dir, talking to the server through a proxy. */
  async function startRunner(
    overrides: Partial<RunnerConfig> = {},
    proxyOptions: OutputServerOptions = {},
  ): Promise<Started> {
    runnerCount += 1;
    const proxy = await startOutputServer(server.url, proxyOptions);
    const flags: Partial<RunnerConfig> = {
      serverUrl: proxy.url,
      token: server.token,
      name: `output-runner-${runnerCount}`,
      roots: [root],
      dataDir: join(root, `data-${runnerCount}`),
      retryBaseMs: 50,
      retryMaxMs: 300,
      ...overrides,
    };
    const config = loadRunnerConfig({}, { flags });
    const logs: Started['logs'] = [];
    const runner = createRunner({
      client: new OutpostClient({
        baseUrl: config.serverUrl,
        token: server.token,
        fetch: nodeTransport,
      }),
      config,
      log: (level, msg) => logs.push({ level, msg }),
    });
    const started = { runner, proxy, config, logs };
    running.push(started);
    await runner.start();
    return started;
  }

  const runShell = (runner: string, command: string): Promise<Task> =>
    client.createTask({ kind: 'shell', spec: { command }, target: { runner }, timeoutMs: 30_000 });

  const finished = (task: Task): Promise<Task> => client.waitForTask(task.id, { pollMs: 20_000 });

  async function until(check: () => boolean, withinMs = 10_000): Promise<void> {
    const deadline = Date.now() + withinMs;
    while (!check()) {
      if (Date.now() > deadline) assert.fail(`not true within ${withinMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  const seqsOf = (chunks: StoredChunk[]): number[] => chunks.map((c) => c.seq);
  const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

  it(
    'streams stdout and stderr as ordered chunks that add up to what the task printed',
    T,
    async () => {
      const { config, proxy } = await startRunner();
      const command =
        'for i in $(seq 1 200); do echo "out $i"; echo "err $i" >&2; done; ' +
        "head -c 300000 /dev/zero | tr '\\0' x";
      const done = await finished(await runShell(config.name, command));
      assert.equal(done.state, 'succeeded');
      const lines = (tag: string) =>
        oneTo(200)
          .map((i) => `${tag} ${i}\n`)
          .join('');
      const chunks = proxy.stored(done.id);
      assert.deepEqual(seqsOf(chunks), oneTo(chunks.length), 'seqs 1..n, no gap');
      assert.ok(chunks.every((c) => c.size <= 64 * 1024 && c.encoding === 'utf8'));
      assert.equal(proxy.text(done.id, 'stdout').toString(), lines('out') + 'x'.repeat(300_000));
      assert.equal(proxy.text(done.id, 'stderr').toString(), lines('err'));
      assert.ok(chunks.length >= 6, `300 kB comes in 64 KiB chunks (got ${chunks.length})`);
      assert.equal(done.outcome?.metadata, undefined, 'nothing dropped, nothing to say');
    },
  );

  it('delivers the first line while the task is still running', T, async () => {
    const { config, proxy } = await startRunner();
    const task = await runShell(config.name, 'echo first; sleep 1; echo second');
    await until(() => proxy.text(task.id, 'stdout').length > 0);
    const firstAt = Date.now();
    assert.equal(proxy.text(task.id, 'stdout').toString(), 'first\n');
    assert.equal((await client.getTask(task.id)).state, 'running');
    const done = await finished(task);
    assert.equal(proxy.text(task.id, 'stdout').toString(), 'first\nsecond\n');
    const secondAt = proxy.stored(task.id).at(-1)!.at;
    assert.ok(secondAt - firstAt >= 700, `the lines came ${secondAt - firstAt} ms apart`);
    assert.equal(done.state, 'succeeded');
  });

  it('sends bytes that are not UTF-8 as base64 and they round-trip exactly', T, async () => {
    const { config, proxy } = await startRunner();
    const done = await finished(await runShell(config.name, "printf '\\377\\376'; printf 'ok\\n'"));
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(proxy.text(done.id, 'stdout'), Buffer.from([0xff, 0xfe, 0x6f, 0x6b, 0x0a]));
    assert.ok(proxy.stored(done.id).some((c) => c.encoding === 'base64'));
  });

  it('never splits a character that the task wrote in two parts', T, async () => {
    const { config, proxy } = await startRunner();
    const command = "printf 'a\\342\\202'; sleep 0.6; printf '\\254\\n'";
    const done = await finished(await runShell(config.name, command));
    const chunks = proxy.stored(done.id);
    assert.ok(chunks.length >= 2, 'the 250 ms flush sent "a" while the task slept');
    assert.ok(
      chunks.every((c) => c.encoding === 'utf8'),
      'every chunk is valid UTF-8',
    );
    assert.deepEqual(
      chunks.map((c) => c.bytes?.toString()),
      ['a', '€\n'],
    );
  });

  it('rides out a 2 s outage and a lost reply: every chunk arrives once, in order', T, async () => {
    const { config, proxy, logs } = await startRunner();
    // 40 rounds of 100 kB on stdout and a line on stderr, 0.1 s apart: ~2 MB fall in the outage.
    const command =
      'for i in $(seq 1 40); do head -c 100000 /dev/zero | tr "\\0" "$((i % 10))"; echo; ' +
      'echo "err $i" >&2; sleep 0.1; done';
    const task = await runShell(config.name, command);
    await until(() => proxy.stored(task.id).length > 0);
    proxy.mode = 'unavailable';
    const spoolDir = join(config.dataDir, 'spool', `${task.id}-1`);
    let spooled = false;
    const outageEnds = Date.now() + 2_000;
    await until(() => ((spooled ||= existsSync(spoolDir)), Date.now() > outageEnds), 3_000);
    proxy.mode = 'drop-reply'; // the next append is stored but its reply is lost: a resend follows
    const done = await finished(task);
    assert.equal(done.state, 'succeeded');
    const expected = oneTo(40)
      .map((i) => `${String(i % 10).repeat(100_000)}\n`)
      .join('');
    const chunks = proxy.stored(task.id);
    assert.deepEqual(seqsOf(chunks), oneTo(chunks.length));
    assert.equal(proxy.text(task.id, 'stdout').toString(), expected);
    assert.equal(
      proxy.text(task.id, 'stderr').toString(),
      oneTo(40)
        .map((i) => `err ${i}\n`)
        .join(''),
    );
    console.log(
      `outage: ${chunks.length} chunks stored once; ${proxy.failed} appends failed, ` +
        `${proxy.resentChunks} chunks resent after the lost reply`,
    );
    assert.ok(spooled, 'chunks past the 1 MiB window waited in the spool file');
    assert.ok(proxy.failed >= 2, `${proxy.failed} appends failed`);
    assert.ok(proxy.resentChunks >= 1, 'the batch whose reply was lost was sent again');
    assert.ok(logs.some((l) => l.msg.startsWith('sending output failed')));
    assert.equal(existsSync(spoolDir), false, 'the spool is deleted once the attempt ends');
  });

  it('keeps the runner memory flat while a task prints 200 MB', T, async () => {
    // The sink runs in its own process: the growth measured here is the runner's (and the
    // server's, which only sees heartbeats and the capped outcome).
    const sink = await startOutputSink(server.url);
    const { config } = await startRunner({ serverUrl: sink.url, outputSpoolBytes: 16 * MiB });
    const total = 200_000_000;
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = Date.now();
    const command = `head -c ${total} /dev/zero | tr '\\0' a`;
    const done = await finished(await runShell(config.name, command)).finally(() => {
      clearInterval(sampler);
    });
    const tookMs = Date.now() - started;
    const stats = await sink.stats(done.id).finally(() => sink.close());
    assert.equal(done.state, 'succeeded');
    assert.equal(done.outcome?.stdoutBytes, total);
    const dropped = Number(done.outcome?.metadata?.outputDroppedBytes ?? 0);
    assert.equal(
      stats.bytes + dropped,
      total,
      'every byte was either stored or counted as dropped',
    );
    assert.equal(done.outcome?.metadata?.outputUnsentChunks, undefined);
    assert.deepEqual([stats.outOfOrder, stats.notA], [0, 0], 'in seq order, and only "a"s');
    const growthMb = (peak - before) / 1e6;
    console.log(
      `200 MB: rss ${(before / 1e6).toFixed(0)} → peak ${(peak / 1e6).toFixed(0)} MB ` +
        `(+${growthMb.toFixed(1)} MB), ${stats.chunks} chunks stored ` +
        `(${(stats.bytes / 1e6).toFixed(1)} MB), ${(dropped / 1e6).toFixed(1)} MB dropped, ${tookMs} ms`,
    );
    assert.ok(growthMb < 100, `rss grew by ${growthMb.toFixed(1)} MB`);
  });

  it(
    'keeps the spool under its bound, drops the oldest and says so in the outcome',
    T,
    async () => {
      const { config, proxy } = await startRunner({ outputSpoolBytes: MiB, keepOutput: true });
      proxy.mode = 'unavailable';
      // ~6.9 MB of numbered lines while the server is down, then a pause before the task ends.
      const task = await runShell(config.name, 'seq 1 1000000; sleep 1.5');
      const spoolRoot = join(config.dataDir, 'spool');
      let most = 0;
      const sampler = setInterval(() => (most = Math.max(most, diskBytes(spoolRoot))), 5);
      await until(() => proxy.failed > 0);
      await new Promise((r) => setTimeout(r, 1_000));
      clearInterval(sampler);
      proxy.mode = 'ok';
      const done = await finished(task);
      const full = Buffer.from(oneTo(1_000_000).join('\n') + '\n');
      const chunks = proxy.stored(task.id);
      const meta = done.outcome?.metadata ?? {};
      const received = chunks.reduce((n, c) => n + c.size, 0);
      assert.ok(most > 0 && most <= MiB, `the spool held at most ${most} bytes`);
      assert.ok(Number(meta.outputDroppedChunks) > 0, 'the outcome counts the dropped chunks');
      assert.equal(received + Number(meta.outputDroppedBytes), full.length);
      assert.equal(proxy.droppedBytes, Number(meta.outputDroppedBytes), 'the server was told');
      const seqs = seqsOf(chunks);
      assert.ok(
        seqs.some((s, i) => i > 0 && s > seqs[i - 1]! + 1),
        'the drop shows as a seq gap',
      );
      const head = Buffer.concat(chunks.filter((c, i) => c.seq === i + 1).map((c) => c.bytes!));
      const firstGap = seqs.findIndex((s, i) => s !== i + 1);
      const tail = Buffer.concat(chunks.slice(firstGap).map((c) => c.bytes!));
      assert.deepEqual(head, full.subarray(0, head.length), 'the window kept the oldest output');
      assert.deepEqual(tail, full.subarray(full.length - tail.length), 'the spool kept the newest');
      assert.equal(meta.outputFile, join(config.dataDir, 'output', `${task.id}-1.log`));
      assert.deepEqual(readFileSync(String(meta.outputFile)), full, 'the local file has it all');
      console.log(
        `spool bound 1 MiB: peak ${most} bytes on disk; ${chunks.length} chunks stored, ` +
          `${String(meta.outputDroppedChunks)} chunks (${String(meta.outputDroppedBytes)} bytes) dropped`,
      );
    },
  );

  it('finishes after a bounded wait when the output cannot be sent, and says so', T, async () => {
    const { config, proxy } = await startRunner();
    proxy.mode = 'unavailable';
    const started = Date.now();
    const done = await finished(await runShell(config.name, 'echo hi'));
    const tookMs = Date.now() - started;
    assert.equal(done.state, 'succeeded');
    assert.equal(done.outcome?.stdout, 'hi\n');
    assert.equal(done.outcome?.metadata?.outputUnsentChunks, 1);
    assert.ok(tookMs >= 4_500 && tookMs < 9_000, `finished after ${tookMs} ms (flush wait 5 s)`);
    assert.ok(proxy.failed >= 3, 'it kept retrying during the wait');
  });

  it('stops sending output once the server says the lease is lost', T, async () => {
    const { config, proxy } = await startRunner();
    proxy.mode = 'lease-lost';
    const task = await runShell(config.name, 'for i in 1 2 3 4 5 6; do echo $i; sleep 0.1; done');
    const done = await finished(task);
    assert.equal(done.state, 'succeeded', 'the finish itself still goes through');
    assert.equal(proxy.requests, 1, 'one refused append, and no more after it');
    const unsent = Number(done.outcome?.metadata?.outputUnsentChunks);
    assert.ok(unsent >= 2, `the outcome says ${unsent} chunks were never stored`);
  });
});

interface SinkStats {
  chunks: number;
  bytes: number;
  highest: number;
  outOfOrder: number;
  notA: number;
}

/** Starts test/fixtures/output-sink.mjs in a child process in front of `upstream`. */
async function startOutputSink(upstream: string) {
  const script = fileURLToPath(new URL('../fixtures/output-sink.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, upstream], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const url = line.toString().trim();
  return {
    url,
    stats: async (taskId: string): Promise<SinkStats> =>
      (await (await fetch(`${url}/_sink/stats?task=${taskId}`)).json()) as SinkStats,
    close: async (): Promise<void> => {
      child.kill();
      await once(child, 'exit');
    },
  };
}

/** Bytes of every file under `dir` (the spool of every attempt), 0 when it does not exist. */
function diskBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    try {
      const info = statSync(join(dir, entry));
      if (info.isFile()) total += info.size;
    } catch {
      // deleted between the listing and the stat: it no longer counts
    }
  }
  return total;
}
