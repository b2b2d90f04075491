// The `shell` kind: a command string goes to the configured shell as ONE argv element (no second
// round of expansion), an argv array runs without a shell; cwd is confined to the roots.
import { statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { Outcome, ShellSpec } from '../../protocol/tasks.ts';
import { buildChildEnv } from '../child-env.ts';
import { runProcess, type ProcessResult } from '../process.ts';
import { createTaskTag } from '../process-sweep.ts';
import { resolveInRoots } from '../roots.ts';
import {
  TaskFailure,
  cancelledOutcome,
  defineExecutor,
  failedOutcome,
  isErrno,
  isTransientErrno,
} from './outcome.ts';
import type { ExecContext, ExecSettings } from './types.ts';

export const DEFAULT_SHELL: readonly string[] = Object.freeze(['/bin/sh', '-c']);

export const executeShell = defineExecutor('shell', runShell);

async function runShell(spec: ShellSpec, ctx: ExecContext): Promise<Outcome> {
  const startedAt = Date.now();
  const { settings } = ctx;
  const result = await runProcess({
    argv: shellArgv(spec.command, settings.shell),
    cwd: await resolveCwd(spec.cwd, settings),
    env: buildChildEnv(settings.envAllowlist, spec.env),
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
    maxOutputBytes: settings.maxOutputBytes,
    onOutput: ctx.onOutput,
    killGraceMs: settings.killGraceMs,
    tag: createTaskTag(ctx.taskId, ctx.attempt, settings.tagPrefix),
  });
  return toShellOutcome(result, ctx.timeoutMs, Date.now() - startedAt);
}

/** A string is one argv element after the shell's own flags; an array is the argv itself. */
export function shellArgv(command: string | readonly string[], shell: readonly string[]): string[] {
  if (typeof command !== 'string') return [...command];
  return [...(shell.length > 0 ? shell : DEFAULT_SHELL), command];
}

/**
 * `cwd` (default: the first root) confined to the roots; it must be an existing directory. The
 * stat is synchronous for the reason roots.ts gives: a thread-pool round trip per task cost a
 * spawn-bound runner far more than the system call.
 */
export async function resolveCwd(cwd: string | undefined, settings: ExecSettings): Promise<string> {
  const dir = await resolveInRoots(cwd ?? settings.roots[0] ?? '.', settings);
  try {
    if (statSync(dir).isDirectory()) return dir;
  } catch (err) {
    if (isErrno(err, 'ENOENT'))
      throw new TaskFailure('not_found', `cwd does not exist: ${cwd ?? dir}`);
    throw err;
  }
  throw new TaskFailure('io', `cwd is not a directory: ${cwd ?? dir}`);
}

/** Maps how the process ended to an outcome; a signal death becomes exit code 128 + signum. */
export function toShellOutcome(
  result: ProcessResult,
  timeoutMs: number,
  durationMs: number,
): Outcome {
  const exitCode = exitCodeOf(result);
  const base: Outcome = {
    status: 'succeeded',
    exitCode,
    ...(result.signal ? { signal: result.signal } : {}),
    stdout: result.stdout,
    stderr: result.stderr,
    stdoutBytes: result.stdoutBytes,
    stderrBytes: result.stderrBytes,
    truncated: result.truncated,
    durationMs,
  };
  if (result.spawnError) {
    const { spawnError } = result;
    return failedOutcome('spawn', spawnError.message, base, isTransientErrno(spawnError));
  }
  if (result.timedOut)
    return { ...base, status: 'timed_out', error: timeoutError(timeoutMs, exitCode) };
  if (result.cancelled) return cancelledOutcome('cancelled; the process tree was stopped', base);
  if (result.lost !== undefined) {
    const message = `lost track of the process: ${result.lost}; its process tree was stopped`;
    return failedOutcome('internal', message, base, false);
  }
  if (exitCode === 0) return base;
  const error = {
    kind: 'exit',
    message: exitMessage(result, exitCode),
    exitCode,
    retryable: false,
  };
  return { ...base, status: 'failed', error };
}

/** The exit code to report; a signal death becomes 128 + signum, a failed spawn 127 or 126. */
export function exitCodeOf(result: ProcessResult): number {
  if (result.spawnError) return result.spawnError.code === 'ENOENT' ? 127 : 126; // as sh reports them
  if (result.exitCode !== null) return result.exitCode;
  const signum = result.signal ? osConstants.signals[result.signal] : undefined;
  return signum === undefined ? 255 : 128 + signum;
}

function exitMessage(result: ProcessResult, exitCode: number): string {
  if (result.exitCode === null && result.signal)
    return `killed by ${result.signal} (exit code ${exitCode})`;
  return `exited with code ${exitCode}`;
}

function timeoutError(timeoutMs: number, exitCode: number): NonNullable<Outcome['error']> {
  return {
    kind: 'timeout',
    message: `timed out after ${timeoutMs} ms`,
    exitCode,
    retryable: false,
  };
}
