// What starting a task's process gives process.ts, wherever the fork happens: its pid, its output
// as it arrives, and promises for its exit and the end of its output. Also the in-thread way to
// start one, used when the spawn helpers cannot run.
import { spawn, type ChildProcess } from 'node:child_process';

export type OutputStreamName = 'stdout' | 'stderr';

export interface LaunchRequest {
  file: string;
  args: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  /**
   * Every byte of both streams, in order per stream, as it arrives. `bytes` may be a view of a
   * buffer the helper's channel reuses for its next read: copy what must outlive the call.
   */
  onOutput: (stream: OutputStreamName, bytes: Buffer) => void;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /**
   * Set when no one can tell how the process ended any more (the helper that forked it died):
   * it may still be running, and whoever supervises it must stop its group.
   */
  lost?: string;
}

/** A started child: stdin ignored, its own process group (it called setsid), two output pipes. */
export interface LaunchedChild {
  pid: number;
  exited: Promise<ChildExit>;
  /** Both streams ended: every byte the child wrote went to `onOutput`. */
  closed: Promise<void>;
  /** Stops reading its output; an escapee that holds the pipes open could keep them forever. */
  release(): void;
}

export interface SpawnFailure {
  code: string;
  message: string;
}

export type Launch = LaunchedChild | { spawnError: SpawnFailure };

/** The spawn error as the outcome shows it, for an in-thread spawn and a helper's alike. */
export function spawnFailure(code: string | undefined, reason: string, file: string): SpawnFailure {
  return { code: code ?? 'ESPAWN', message: `could not start ${file}: ${reason}` };
}

/**
 * Forks on the calling thread, which libuv blocks until the child has exec'd (about 1 ms here,
 * more on a busy machine): the fallback when no spawn helper is running.
 */
export function launchLocally(req: LaunchRequest): Launch | Promise<Launch> {
  let child: ChildProcess;
  try {
    // detached: the child calls setsid(), so it leads a fresh process group we can signal as one.
    child = spawn(req.file, req.args, {
      cwd: req.cwd,
      env: req.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    return { spawnError: describeError(err, req.file) };
  }
  const { pid } = child;
  if (pid === undefined) {
    return new Promise((res) =>
      child.once('error', (err) => res({ spawnError: describeError(err, req.file) })),
    );
  }
  child.on('error', () => undefined); // only child.kill() errors come here now; we never call it
  child.stdout?.on('data', (chunk: Buffer) => req.onOutput('stdout', chunk));
  child.stderr?.on('data', (chunk: Buffer) => req.onOutput('stderr', chunk));
  return {
    pid,
    exited: new Promise((res) => child.once('exit', (code, signal) => res({ code, signal }))),
    closed: new Promise((res) => child.once('close', () => res())),
    release: () => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    },
  };
}

function describeError(err: unknown, file: string): SpawnFailure {
  const reason = err instanceof Error ? err.message : String(err);
  return spawnFailure((err as NodeJS.ErrnoException).code, reason, file);
}
