// The only module that runs task processes: one process group per task (forked by a spawn
// helper, see spawn-pool.ts), output capped in memory, and a stop ladder (TERM, grace, KILL, then a
// sweep of tagged escapees) that ends them all.
import { setTimeout as delay } from 'node:timers/promises';
import { CappedOutput } from './capped-output.ts';
import type { ChildExit, Launch, LaunchedChild, OutputStreamName } from './child-launch.ts';
import { TASK_TAG_VAR, hasLiveGroupMember, sweepTaggedProcesses } from './process-sweep.ts';
import { HELPER_LOST } from './spawn-helper.ts';
import { spawnPool } from './spawn-pool.ts';

export interface RunProcessOptions {
  argv: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  /** Aborting stops the whole tree, like a timeout, and marks the result `cancelled`. */
  signal?: AbortSignal;
  /** Kept per stream; the rest is counted and drained, never buffered. */
  maxOutputBytes: number;
  /**
   * Sees every byte of both streams as it arrives (live output), before and beyond the cap;
   * `bytes` is valid only during the call (see LaunchRequest.onOutput).
   */
  onOutput?: (stream: OutputStreamName, bytes: Buffer) => void;
  killGraceMs: number;
  /** Set as OUTPOST_TASK_TAG in the child so processes that leave the group can still be found. */
  tag: string;
}

export interface ProcessResult {
  /** null when the process died by a signal (see `signal`), never started, or was lost. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
  truncated: boolean;
  timedOut: boolean;
  cancelled: boolean;
  spawnError?: { code: string; message: string };
  /**
   * Why the runner lost track of the process (the spawn helper that forked it died): how it ended
   * is unknown. Its group was stopped and its tag swept all the same.
   */
  lost?: string;
}

/** How often the group is probed while waiting for it to go; short, as a stop waits on it. */
const GROUP_POLL_MS = 10;
/** How often a lingering group is checked for being only zombies; a /proc scan costs a few ms. */
const ZOMBIE_SCAN_MS = 50;
/** After SIGKILL the kernel ends a group within ms; this bound only guards against zombies no one reaps. */
const KILL_WAIT_MS = 2_000;
/** How long to wait for pipes to close once every process is gone (an untagged escapee may hold them). */
const STREAM_CLOSE_MS = 500;
/**
 * Once a stop has ended the group, its exit is reported within ms; a helper that stays silent this
 * long after is hung, and the process counts as lost rather than holding the attempt forever.
 */
const EXIT_REPORT_MS = 5_000;
/** setTimeout fires at once for delays above 2^31-1 ms; clamp rather than kill a task early. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `argv` in its own process group and resolves once it exited and its group is gone.
 * @example const r = await runProcess({ argv: ['true'], cwd: '/tmp', env: {}, timeoutMs: 5000,
 *   maxOutputBytes: 1 << 20, killGraceMs: 2000, tag: 't1' });
 */
export async function runProcess(opts: RunProcessOptions): Promise<ProcessResult> {
  if (opts.signal?.aborted) return emptyResult({ cancelled: true });
  const stdout = new CappedOutput(opts.maxOutputBytes);
  const stderr = new CappedOutput(opts.maxOutputBytes);
  const launched = await launchChild(opts, (stream, bytes) => {
    (stream === 'stdout' ? stdout : stderr).push(bytes);
    opts.onOutput?.(stream, bytes);
  });
  if ('spawnError' in launched) {
    // The helper died before it answered: the process may have been forked all the same.
    if (launched.spawnError.code === HELPER_LOST) await sweepTaggedProcesses(opts.tag);
    return emptyResult({ spawnError: launched.spawnError });
  }
  const ended = await superviseChild(launched, opts);
  await Promise.race([launched.closed, delay(STREAM_CLOSE_MS)]);
  launched.release();
  const out = stdout.finish();
  const err = stderr.finish();
  return {
    ...ended,
    stdout: out.text,
    stderr: err.text,
    stdoutBytes: out.bytes,
    stderrBytes: err.bytes,
    truncated: out.truncated || err.truncated,
  };
}

function launchChild(
  opts: RunProcessOptions,
  onOutput: (stream: OutputStreamName, bytes: Buffer) => void,
): Launch | Promise<Launch> {
  const [file, ...args] = opts.argv;
  if (file === undefined) return { spawnError: { code: 'EINVAL', message: 'empty argv' } };
  const env = { ...opts.env, [TASK_TAG_VAR]: opts.tag };
  return spawnPool.launch({ file, args, cwd: opts.cwd, env, onOutput });
}

type Ending = Pick<ProcessResult, 'exitCode' | 'signal' | 'timedOut' | 'cancelled' | 'lost'>;

/** Waits for the exit, stopping the group on timeout or abort; then clears whatever is left. */
async function superviseChild(child: LaunchedChild, opts: RunProcessOptions): Promise<Ending> {
  const { pid } = child;
  const stopper = armStop(pid, opts);
  const exit = await Promise.race([child.exited, stopper.stopped().then(silentHelper)]);
  stopper.disarm();
  // Children left in the group once the leader is gone are leaks of this task: they go too. A lost
  // leader may still run: the same stop ends it.
  const leftovers = groupExists(pid);
  await (stopper.stopping() ?? stopGroup(pid, opts.killGraceMs));
  const reason = stopper.reason();
  if (reason !== undefined || leftovers || exit.lost) await sweepTaggedProcesses(opts.tag);
  return {
    exitCode: exit.code,
    signal: exit.signal,
    timedOut: reason === 'timeout',
    cancelled: reason === 'cancel',
    ...(exit.lost === undefined ? {} : { lost: exit.lost }),
  };
}

async function silentHelper(): Promise<ChildExit> {
  await delay(EXIT_REPORT_MS, undefined, { ref: false });
  return { code: null, signal: null, lost: 'no exit was reported after its group was stopped' };
}

type StopReason = 'timeout' | 'cancel';

/** Arms the timeout and the abort signal; whichever comes first starts the stop ladder, once. */
function armStop(pid: number, opts: RunProcessOptions) {
  let reason: StopReason | undefined;
  let stopping: Promise<void> | undefined;
  let markStopped = () => {};
  const stopped = new Promise<void>((res) => (markStopped = res));
  const stop = (why: StopReason) => {
    reason ??= why;
    stopping ??= stopGroup(pid, opts.killGraceMs).then(markStopped);
  };
  const timer = setTimeout(
    () => stop('timeout'),
    Math.min(Math.max(0, opts.timeoutMs), MAX_TIMER_MS),
  );
  const onAbort = () => stop('cancel');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort(); // aborted while spawning: the listener would never fire
  return {
    disarm: () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    },
    reason: () => reason,
    stopping: () => stopping,
    /** Settles once a stop this armed has ended the group (never, if none was needed). */
    stopped: () => stopped,
  };
}

/** TERM the group, wait up to `graceMs`, then KILL it and wait (bounded) until it is gone. */
async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  if (await waitGroupGone(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, KILL_WAIT_MS);
}

/** True once the group has no member, or only zombies that the reaper has not collected yet. */
async function waitGroupGone(pgid: number, maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  let scanAt = Date.now() + ZOMBIE_SCAN_MS;
  while (groupExists(pgid)) {
    if (Date.now() >= scanAt) {
      if (!(await hasLiveGroupMember(pgid))) return true;
      scanAt = Date.now() + ZOMBIE_SCAN_MS;
    }
    if (Date.now() >= deadline) return false;
    await delay(GROUP_POLL_MS);
  }
  return true;
}

function groupExists(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

/** Sends `sig` to the group; false when no process of it is left (ESRCH). */
function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch (err) {
    // EPERM: a member we may not signal (a setuid program) still exists.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    return true;
  }
}

function emptyResult(extra: Partial<ProcessResult>): ProcessResult {
  return {
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: '',
    stdoutBytes: 0,
    stderrBytes: 0,
    truncated: false,
    timedOut: false,
    cancelled: false,
    ...extra,
  };
}
