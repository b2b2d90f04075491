// Finds and kills processes that left a task's process group (setsid, double fork) but still carry
// its env tag, the way GitHub's runner uses RUNNER_TRACKING_ID; and tells a live group from one of
// zombies. Linux only, via /proc; elsewhere the sweep does nothing and every group counts as live.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

export const TASK_TAG_VAR = 'OUTPOST_TASK_TAG';

/** A process may fork while we sweep; a few passes catch its children too. */
const MAX_PASSES = 5;
/** Lets killed processes become zombies (environ then reads empty) before the next pass. */
const PASS_PAUSE_MS = 20;

/** A tag unique to one attempt, safe to put in an environment variable. */
export function createTaskTag(taskId: string, attempt: number, prefix?: string): string {
  const safeId = taskId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  const tag = `${safeId}.${attempt}.${randomBytes(6).toString('hex')}`;
  return prefix ? `${prefix}.${tag}` : tag;
}

/**
 * The tag prefix of one runner: stable across its restarts (same name, same data directory),
 * different for any other runner on the machine.
 */
export function runnerTagPrefix(name: string, dataDir: string): string {
  return `r${createHash('sha256').update(`${name}\0${dataDir}`).digest('hex').slice(0, 12)}`;
}

/** SIGKILLs every process whose initial environment holds `OUTPOST_TASK_TAG=<tag>`; returns how many. */
export async function sweepTaggedProcesses(tag: string): Promise<number> {
  if (tag === '') return 0;
  return sweepMatching(Buffer.from(`${TASK_TAG_VAR}=${tag}\0`));
}

/**
 * SIGKILLs every process tagged by the runner with this prefix: at start, what a killed earlier
 * run of the same runner left behind (its attempts are being handed to other runners).
 */
export async function sweepRunnerLeftovers(prefix: string): Promise<number> {
  if (prefix === '') return 0;
  return sweepMatching(Buffer.from(`${TASK_TAG_VAR}=${prefix}.`));
}

async function sweepMatching(needle: Buffer): Promise<number> {
  if (process.platform !== 'linux') return 0;
  let killed = 0;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const pids = await findTaggedPids(needle);
    if (pids.length === 0) break;
    for (const pid of pids) killed += killQuietly(pid) ? 1 : 0;
    await delay(PASS_PAUSE_MS);
  }
  return killed;
}

async function findTaggedPids(needle: Buffer): Promise<number[]> {
  const names = await readdir('/proc').catch(() => [] as string[]);
  const pids = names.filter((n) => /^\d+$/.test(n)).map(Number);
  const hits = await Promise.all(pids.map(async (pid) => ((await hasTag(pid, needle)) ? pid : 0)));
  return hits.filter((pid) => pid > 0 && pid !== process.pid);
}

async function hasTag(pid: number, needle: Buffer): Promise<boolean> {
  try {
    return containsEntry(await readFile(`/proc/${pid}/environ`), needle);
  } catch {
    return false; // gone, or another user's process: not ours to judge
  }
}

/**
 * True when `entry` (ending in NUL) is one whole NUL-separated entry of `environ`, or, for a
 * prefix (not ending in NUL), when an entry starts with it.
 */
function containsEntry(environ: Buffer, entry: Buffer): boolean {
  for (let at = environ.indexOf(entry); at !== -1; at = environ.indexOf(entry, at + 1)) {
    if (at === 0 || environ[at - 1] === 0) return true;
  }
  if (entry.at(-1) !== 0) return false;
  // The last entry of environ may lack its trailing NUL.
  const last = entry.subarray(0, -1);
  return (
    environ.length >= last.length &&
    environ.subarray(-last.length).equals(last) &&
    startsEntry(environ, last)
  );
}

function startsEntry(environ: Buffer, last: Buffer): boolean {
  const at = environ.length - last.length;
  return at === 0 || environ[at - 1] === 0;
}

/**
 * False when every process left in group `pgid` is a zombie. An init that reaps orphans slowly
 * (or never, as node running as PID 1 in a container) would otherwise keep the group "alive".
 */
export async function hasLiveGroupMember(pgid: number): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  const names = await readdir('/proc').catch(() => [] as string[]);
  const pids = names.filter((n) => /^\d+$/.test(n));
  const live = await Promise.all(pids.map((pid) => isLiveMember(pid, pgid)));
  return live.includes(true);
}

async function isLiveMember(pid: string, pgid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
    // Fields after "pid (comm) ": state ppid pgrp …; comm may itself contain ") ".
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(pgrp) === pgid && state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function killQuietly(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
