// Spawns the real `outpost serve` / `outpost runner` (bin/outpost.js) as child processes with their
// output in a log file, and reads a process's RSS and CPU time from /proc; also describes the machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const OUTPOST_BIN = fileURLToPath(new URL('../bin/outpost.js', import.meta.url));

export interface Daemon {
  child: ChildProcess;
  pid: number;
  /** The first capture group of the ready pattern (the URL for a server). */
  ready: string;
  logPath: string;
  /** performance.now() just before spawning; a CPU profile's clock starts about then. */
  spawnedAt: number;
  /** Where this process writes its CPU profile (--cpu-prof), if it was asked to. */
  profileDir?: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Matched against the log; the first group (or whole match) becomes `ready`. */
  ready: RegExp;
  logPath: string;
  /** The entry script; default bin/outpost.js (the CLI compiled into dist/). Another compares. */
  bin?: string;
  /** Extra node flags (e.g. --max-semi-space-size=2), to try runtime settings without code changes. */
  nodeArgs?: readonly string[];
  /** Write a V8 CPU profile into this folder when the process exits (node --cpu-prof). */
  profileDir?: string;
  timeoutMs?: number;
}

/** Starts `node [nodeArgs] bin/outpost.js args` and resolves when its log matches `ready`. */
export async function spawnOutpost(opts: SpawnOptions): Promise<Daemon> {
  const fd = openSync(opts.logPath, 'a');
  const profile = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [];
  const nodeArgs = [...profile, ...(opts.nodeArgs ?? [])];
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, opts.bin ?? OUTPOST_BIN, ...opts.args], {
    env: opts.env,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn outpost ${opts.args.join(' ')}`);
  let ready: string;
  try {
    ready = await waitForLog(child, opts.logPath, opts.ready, opts.timeoutMs ?? 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const stop = async (graceMs = 5_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { child, pid, ready, logPath: opts.logPath, spawnedAt, profileDir: opts.profileDir, stop };
}

async function waitForLog(
  child: ChildProcess,
  path: string,
  pattern: RegExp,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readFileSync(path, 'utf8');
    const match = pattern.exec(text);
    if (match) return match[1] ?? match[0];
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `outpost exited (${child.exitCode ?? child.signalCode}) before ready:\n${text.slice(-2000)}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`outpost not ready after ${timeoutMs} ms:\n${text.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Records a measured phase, in ms after the process was spawned, in `window.json` beside its CPU
 * profile, so bench/profile.ts can look at that phase alone (not start-up or other phases).
 */
export function markProfileWindow(d: Daemon, phase: string, start: number, end: number): void {
  if (!d.profileDir) return;
  mkdirSync(d.profileDir, { recursive: true });
  const file = join(d.profileDir, 'window.json');
  const phases = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)
    : {};
  phases[phase] = { fromMs: start - d.spawnedAt, toMs: end - d.spawnedAt };
  writeFileSync(file, `${JSON.stringify(phases, null, 1)}\n`);
}

/** A child environment with the developer's own Outpost settings removed, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OUTPOST_|WORKER_|MAX_CONCURRENT|LONG_POLL_WAIT|POLL_INTERVAL|NODE_OPTIONS)/.test(k))
      env[k] = v;
  }
  return { ...env, ...extra };
}

/** Resident set size of `pid` in MiB (VmRSS from /proc/<pid>/status). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) / 1024;
}

/** Clock ticks per second for /proc/<pid>/stat times; 100 on every Linux we run on. */
const CLK_TCK = 100;

/**
 * User + system CPU time `pid` has used so far, in ms (from /proc/<pid>/stat, 10 ms resolution);
 * with `children`, that of its exited and reaped children instead (cutime + cstime).
 */
export function cpuMs(pid: number, children = false): number {
  return cpuMsOfStat(`/proc/${pid}/stat`, children);
}

/**
 * CPU of one thread of `pid` (its main thread by default), in ms. A server's main thread runs
 * every request and store call; its other threads (the checkpointer, V8's compiler and GC
 * helpers) run beside it, so the main thread's share says how close the server is to its limit.
 */
export function threadCpuMs(pid: number, tid = pid): number {
  return cpuMsOfStat(`/proc/${pid}/task/${tid}/stat`, false);
}

function cpuMsOfStat(path: string, children: boolean): number {
  const stat = readFileSync(path, 'utf8');
  // Fields after the parenthesised command name: utime, stime, cutime, cstime are fields 14-17.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [u, s] = children ? [rest[13], rest[14]] : [rest[11], rest[12]];
  return ((Number(u) + Number(s)) * 1000) / CLK_TCK;
}

/**
 * Direct children of `pid`, from /proc/<pid>/task/<tid>/children: a runner's spawn helpers (its
 * task processes are the helpers' children). Read at each sample, as helpers start with the first task.
 */
export function childPids(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
      .split(' ')
      .filter((field) => field.trim() !== '')
      .map(Number),
  );
}

/** `cpuMs`, or 0 for a process that is gone (its time went to its parent's children's time). */
export function cpuMsIfAlive(pid: number, children = false): number {
  try {
    return cpuMs(pid, children);
  } catch {
    return 0;
  }
}

/** CPU used by this (bench) process so far, in ms. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export interface Machine {
  nproc: number;
  model: string;
  node: string;
  os: string;
}

export function describeMachine(): Machine {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // not Linux: keep os.cpus()'s name
  }
  let os = `${process.platform} ${process.arch}`;
  try {
    os = `${readFileSync('/proc/sys/kernel/ostype', 'utf8').trim()} ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}`;
  } catch {
    // keep platform/arch
  }
  return { nproc: availableParallelism(), model, node: process.version, os };
}

/** Paths of one benchmark workspace (a fresh temp directory). */
export function workspacePaths(root: string) {
  return {
    serverData: join(root, 'server'),
    runnerData: join(root, 'runner-data'),
    roots: join(root, 'roots'),
    logs: join(root, 'logs'),
  };
}
