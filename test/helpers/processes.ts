// Spawns the real `outpost` CLI as child processes for end-to-end tests, and cleans them up.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OUTPOST_BIN = fileURLToPath(new URL('../../bin/outpost.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `outpost <args>` to completion. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<CliResult> {
  const cli = spawnCli(args, env);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  const code = await cli.exited;
  clearTimeout(timer);
  return { code, ...cli.out };
}

/** A running `outpost <args>`: its output so far, its exit, and a wait for its output to match. */
export interface SpawnedCli {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exited: Promise<number | null>;
  until(test: () => boolean, what: string, timeoutMs?: number): Promise<void>;
}

/** Starts `outpost <args>` and collects its output as it arrives (for signals and live output). */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): SpawnedCli {
  const child = spawn(process.execPath, [OUTPOST_BIN, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const until = async (test: () => boolean, what: string, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(out)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, out, exited, until };
}

export interface Daemon {
  child: ChildProcess;
  /** Everything printed so far. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts a long-running `outpost` command and resolves once its output matches `ready`.
 * `as` runs it as another user (fault tests drop root so file permissions apply).
 */
export async function startDaemon(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  timeoutMs = 30_000,
  as: { uid?: number; gid?: number } = {},
): Promise<Daemon & { match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [OUTPOST_BIN, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  let output = '';
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    // A daemon that never got ready is killed, so it cannot keep the test process alive.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`not ready after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      output += d.toString();
      const m = output.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${output}`));
    });
  });
  return {
    child,
    match,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** A child environment without the developer's own Outpost settings leaking in. */
export function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OUTPOST_|WORKER_|MAX_CONCURRENT|LONG_POLL_WAIT|POLL_INTERVAL)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

/** A real `outpost serve` and `outpost runner` on loopback, with a client environment for both. */
export interface Cluster {
  /** Temp directory: the runner's root, and where server, runner and client keep their data. */
  dir: string;
  url: string;
  token: string;
  /** Environment for `outpost` client commands (URL, token, a client data dir). */
  env: NodeJS.ProcessEnv;
  server: Daemon;
  runner: Daemon;
  close(): Promise<void>;
}

/**
 * Starts `outpost serve` on a free loopback port with its data under `dir`/server; `env` is for
 * client commands (URL, token, a client data dir under `dir`). `serveArgs` go to `outpost serve`.
 */
export async function startServer(
  dir: string,
  token: string,
  serveArgs: readonly string[] = [],
): Promise<{ server: Daemon; url: string; env: NodeJS.ProcessEnv }> {
  const serverEnv = cleanEnv({
    OUTPOST_TOKEN: token,
    OUTPOST_DATA_DIR: join(dir, 'server'),
    OUTPOST_LOG_LEVEL: 'warn',
  });
  const listening = /listening on (http:\/\/\S+)/;
  const server = await startDaemon(['serve', '--port', '0', ...serveArgs], serverEnv, listening);
  const url = server.match[1]!;
  const env = cleanEnv({
    OUTPOST_URL: url,
    OUTPOST_TOKEN: token,
    OUTPOST_DATA_DIR: join(dir, 'client'),
  });
  return { server, url, env };
}

/** Starts a server and a runner named `runnerName`, as the README's deployment does. */
export async function startCluster(
  runnerName: string,
  token: string,
  serveArgs: readonly string[] = [],
): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), `outpost-${runnerName}-`));
  const { server, url, env } = await startServer(dir, token, serveArgs);
  const runnerEnv = {
    ...env,
    OUTPOST_DATA_DIR: join(dir, 'runner'),
    OUTPOST_ROOTS: dir,
    OUTPOST_RUNNER_NAME: runnerName,
  };
  const runner = await startDaemon(['runner'], runnerEnv, /polling/).catch(async (err: unknown) => {
    await server.stop();
    throw err;
  });
  const close = async (): Promise<void> => {
    await runner.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, url, token, env, server, runner, close };
}
