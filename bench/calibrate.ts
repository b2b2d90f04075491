// The machine's own floor and ceiling, measured in the same run: a bare node:http server in a
// child process answering a tiny JSON body, and a bare node process spawning `true`. Outpost's
// numbers are read against these.
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchHttp } from './http.ts';
import { runClosedLoop, type LoadPlan } from './load.ts';
import { cpuMs } from './processes.ts';
import { summarize, type Summary } from './stats.ts';

const BARE_SERVER = `const s = require('http').createServer((q, r) => {
  q.resume();
  q.on('end', () => { r.setHeader('content-type', 'application/json'); r.end('{"id":"x","state":"succeeded"}'); });
});
s.keepAliveTimeout = 65000;
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

/** Spawns `true` (detached, piped, as the runner does) 16 at a time for 2 s; prints rate and CPU. */
const BARE_SPAWNER = `const { spawn } = require('child_process');
const one = () => new Promise((res) => { const c = spawn('true', [], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }); c.stdout.resume(); c.stderr.resume(); c.on('close', res); });
const loop = async (end) => { let n = 0; while (performance.now() < end) { await one(); n++; } return n; };
(async () => {
  await loop(performance.now() + 300);
  const c0 = process.cpuUsage(); const t0 = performance.now();
  const n = (await Promise.all(Array.from({ length: 16 }, () => loop(t0 + 2000)))).reduce((a, b) => a + b, 0);
  const cpu = process.cpuUsage(c0); const secs = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ perSecond: n / secs, parentCpuUs: (cpu.user + cpu.system) / n }));
})();`;

export interface Calibration {
  /** One sequential round trip after the same idle gap as the latency runs. */
  idleRoundTrip: Summary;
  /** 16 clients (node:http, keep-alive) looping on the bare server. */
  ceilingPerSecond: number;
  /** Client CPU per request: node:http, and fetch (undici) as the SDK uses. */
  nodeHttpClientCpuUs: number;
  fetchClientCpuUs: number;
  fetchPerSecond: number;
  /** A bare node process spawning `true` 16 at a time: the spawn ceiling of one process here. */
  spawnPerSecond: number;
  spawnParentCpuUs: number;
}

async function spawnCeiling(): Promise<{ perSecond: number; parentCpuUs: number }> {
  const child = spawn(process.execPath, ['-e', BARE_SPAWNER], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  return JSON.parse(out) as { perSecond: number; parentCpuUs: number };
}

async function startBare(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-e', BARE_SERVER], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Measures the floor latency and the throughput ceiling of plain node:http on this machine. */
export async function calibrate(
  gapMs: number,
  samples: number,
  plan: LoadPlan,
): Promise<Calibration> {
  const { child, url } = await startBare();
  const pid = child.pid ?? 0;
  try {
    const one = new BenchHttp({ baseUrl: url, token: 'x', maxSockets: 1 });
    const times: number[] = [];
    // Warm-up rounds back to back, as Outpost's latency runs do (bench/latency.ts).
    const warmup = 200;
    for (let i = 0; i < samples + warmup; i++) {
      if (i >= warmup) await sleep(gapMs);
      const t0 = performance.now();
      await one.ok('GET', '/');
      if (i >= warmup) times.push(performance.now() - t0);
    }
    one.close();

    const many = new BenchHttp({ baseUrl: url, token: 'x', maxSockets: plan.concurrency });
    const server = (): number => cpuMs(pid);
    const http = await runClosedLoop(
      plan,
      async () => void (await many.ok('POST', '/', { a: 1 })),
      { server },
    );
    many.close();
    const viaFetch = await runClosedLoop(
      plan,
      async () => {
        const body = '{"a":1}';
        const res = await fetch(`${url}/`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        });
        await res.text();
      },
      { server },
    );
    const clientUs = (r: typeof http): number =>
      ((((r.cpuPercent.bench ?? 0) / 100) * r.seconds) / Math.max(1, r.completed)) * 1e6;
    const spawns = await spawnCeiling();
    return {
      spawnPerSecond: spawns.perSecond,
      spawnParentCpuUs: spawns.parentCpuUs,
      idleRoundTrip: summarize(times),
      ceilingPerSecond: http.perSecond,
      nodeHttpClientCpuUs: clientUs(http),
      fetchClientCpuUs: clientUs(viaFetch),
      fetchPerSecond: viaFetch.perSecond,
    };
  } finally {
    child.kill();
  }
}
