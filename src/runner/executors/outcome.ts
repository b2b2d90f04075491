// Task failures as data: the error executors throw internally and the helpers that turn it (or a
// filesystem errno) into a failed Outcome, so an executor never throws for a task's own failure.
import { AppError } from '../../protocol/errors.ts';
import { parseTaskSpec } from '../../protocol/validate.ts';
import type { Kind, Outcome, SpecOf } from '../../protocol/tasks.ts';
import type { ExecContext, Executor } from './types.ts';

export type FailureKind =
  'bad_spec' | 'policy' | 'not_found' | 'not_unique' | 'too_large' | 'io' | 'internal';

/** Thrown inside executors for an expected task failure; `defineExecutor` turns it into data. */
export class TaskFailure extends Error {
  readonly kind: FailureKind;
  /** True when the same task may well succeed if tried again (the machine was busy). */
  readonly retryable: boolean;

  constructor(kind: FailureKind, message: string, retryable = false) {
    super(message);
    this.name = 'TaskFailure';
    this.kind = kind;
    this.retryable = retryable;
  }
}

/**
 * A failed outcome. Only transient failures are `retryable` (the server then retries them while
 * attempts remain); a task's own failure, such as a non-zero exit, is retried only when the task
 * asked for it with `retryOnFailure`.
 */
export function failedOutcome(
  kind: string,
  message: string,
  extra: Partial<Outcome> = {},
  retryable = false,
): Outcome {
  return { ...extra, status: 'failed', error: { kind, message, retryable } };
}

/** Errnos that say the machine was momentarily out of something, not that the task is wrong. */
const TRANSIENT_ERRNOS = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'ENOMEM', 'ETXTBSY']);

export function isTransientErrno(err: unknown): boolean {
  return isErrno(err) && TRANSIENT_ERRNOS.has(err.code ?? '');
}

export function isErrno(err: unknown, code?: string): err is NodeJS.ErrnoException {
  if (!(err instanceof Error) || typeof (err as NodeJS.ErrnoException).code !== 'string')
    return false;
  return code === undefined || (err as NodeJS.ErrnoException).code === code;
}

const ERRNO_FAILURES: Record<string, [FailureKind, string]> = {
  ENOENT: ['not_found', 'no such file or directory'],
  ENOTDIR: ['io', 'not a directory'],
  EISDIR: ['io', 'is a directory'],
  EACCES: ['io', 'permission denied'],
  EPERM: ['io', 'operation not permitted'],
  ENOSPC: ['io', 'no space left on device'],
  ELOOP: ['policy', 'too many levels of symbolic links'],
};

/** Maps a filesystem errno to a TaskFailure; anything that is not an errno is returned as is. */
export function toTaskFailure(err: unknown): unknown {
  if (err instanceof TaskFailure || !isErrno(err)) return err;
  const [kind, text] = ERRNO_FAILURES[err.code ?? ''] ?? ['io', err.code ?? 'i/o error'];
  const message = err.path === undefined ? `${text}` : `${text}: ${err.path}`;
  return new TaskFailure(kind, message, isTransientErrno(err));
}

/**
 * Wraps a typed executor body: validates the spec, refuses to start when already aborted, turns
 * TaskFailures and errnos into failed outcomes, and fills in `durationMs`. Bugs still throw.
 */
export function defineExecutor<K extends Kind>(
  kind: K,
  run: (spec: SpecOf<K>, ctx: ExecContext) => Promise<Outcome>,
): Executor {
  return async (raw, ctx) => {
    const startedAt = Date.now();
    const outcome = await runGuarded(kind, raw, ctx, run);
    return { ...outcome, durationMs: outcome.durationMs ?? Date.now() - startedAt };
  };
}

async function runGuarded<K extends Kind>(
  kind: K,
  raw: Record<string, unknown>,
  ctx: ExecContext,
  run: (spec: SpecOf<K>, ctx: ExecContext) => Promise<Outcome>,
): Promise<Outcome> {
  if (ctx.signal.aborted) return cancelledOutcome('cancelled before it started');
  try {
    return await run(parseTaskSpec(kind, raw), ctx);
  } catch (err) {
    if (err instanceof AppError) return failedOutcome('bad_spec', err.message);
    const failure = toTaskFailure(err);
    if (failure instanceof TaskFailure)
      return failedOutcome(failure.kind, failure.message, {}, failure.retryable);
    throw err;
  }
}

export function cancelledOutcome(message = 'cancelled', extra: Partial<Outcome> = {}): Outcome {
  return { ...extra, status: 'cancelled', error: { kind: 'cancelled', message, retryable: false } };
}
