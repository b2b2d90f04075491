// How long the runner waits before retrying a failed request: jittered exponential backoff, and
// the longest delay at once when the server refuses the token (a person has to fix that).
import { AppError } from '../protocol/errors.ts';
import { backoffMs } from '../lib/backoff.ts';
import type { RunnerConfig } from './config.ts';

export type RetryConfig = Pick<RunnerConfig, 'retryBaseMs' | 'retryMaxMs'>;

/** True when the server refused our credentials; retrying soon cannot help. */
export function isAuthError(err: unknown): boolean {
  return err instanceof AppError && (err.code === 'unauthorized' || err.code === 'forbidden');
}

/** True when the server refused the request itself: sending it again unchanged cannot help. */
export function isBadRequest(err: unknown): boolean {
  return err instanceof AppError && err.code === 'bad_request';
}

/** Delay before retry number `failures` (1-based) after `err`. */
export function retryDelayMs(err: unknown, failures: number, config: RetryConfig): number {
  if (isAuthError(err))
    return backoffMs(1, { baseMs: config.retryMaxMs, maxMs: config.retryMaxMs });
  return backoffMs(failures, { baseMs: config.retryBaseMs, maxMs: config.retryMaxMs });
}
