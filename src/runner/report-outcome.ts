// What the runner does when reporting one outcome failed: retry through server blips so a finished
// result is not dropped; a lost lease is final, and an outcome the server refuses is replaced by a
// small failed one. The sending itself (batched) is outcome-reporter.ts.
import { AppError } from '../protocol/errors.ts';
import type { FinishBody } from '../protocol/runner.ts';
import type { Outcome } from '../protocol/tasks.ts';
import { isTransient, type OutpostClient } from '../sdk/client.ts';
import { isAuthError, retryDelayMs, type RetryConfig } from './retry-delay.ts';
import { errorFields, type RunnerLog } from './runner-log.ts';

export interface ReportDeps {
  client: OutpostClient;
  log: RunnerLog;
  retry: RetryConfig;
  /** How long to keep retrying; heartbeats keep the lease alive meanwhile. */
  windowMs: number;
}

export type ReportResult = 'reported' | 'lease_lost' | 'dropped';

export type NextStep = ReportResult | { body: FinishBody; waitMs: number };

export interface RetryState {
  deadline: number;
  /** Only the original outcome may be replaced, so a refused replacement cannot loop. */
  canReplace: boolean;
}

/**
 * What to do with one outcome after a failed report: give up (lease lost, refused for good, window
 * closed), replace a refused outcome with a small failed one (once), or retry after a delay.
 */
export function afterFailure(
  deps: ReportDeps,
  body: FinishBody,
  err: unknown,
  failures: number,
  state: RetryState,
): NextStep {
  const fields = { taskId: body.taskId, ...errorFields(err) };
  if (err instanceof AppError && err.code === 'lease_lost') {
    deps.log('warn', 'the server no longer holds this lease; outcome dropped', fields);
    return 'lease_lost';
  }
  if (isRefusedOutcome(err) && state.canReplace) {
    deps.log('error', 'the server refused the outcome; reporting a failure instead', fields);
    return { body: { ...body, outcome: refusedOutcome(body.outcome, err) }, waitMs: 0 };
  }
  const waitMs = retryDelayMs(err, failures, deps.retry);
  if (!(isTransient(err) || isAuthError(err)) || Date.now() + waitMs > state.deadline) {
    deps.log('error', 'could not report the outcome; giving up', fields);
    return 'dropped';
  }
  deps.log('warn', 'reporting the outcome failed; retrying', { ...fields, retryInMs: waitMs });
  return { body, waitMs };
}

export function isRefusedOutcome(err: unknown): boolean {
  return (
    err instanceof AppError && (err.code === 'bad_request' || err.code === 'payload_too_large')
  );
}

/** What the client sees when the real outcome could not be stored (too large, or invalid). */
function refusedOutcome(original: Outcome, err: unknown): Outcome {
  const reason = err instanceof Error ? err.message : String(err);
  return {
    status: 'failed',
    exitCode: original.exitCode,
    durationMs: original.durationMs,
    error: {
      kind: 'internal',
      message: `the task ended '${original.status}' but the server refused its outcome: ${reason.slice(0, 1000)}`,
      retryable: false,
    },
  };
}
