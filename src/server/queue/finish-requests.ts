// What a finish asks of the store (the outcome, the retry backoff, the runner a bound token may
// finish for) and, when the store changed nothing, whether it stored this outcome before or why not.
import { AppError } from '../../protocol/errors.ts';
import type { FinishBody } from '../../protocol/runner.ts';
import { isDeepStrictEqual } from 'node:util';
import type { FinishRequest, Store, StoredTask } from '../../store/types.ts';
import type { QueueSettings } from './task-service.ts';
import { mayRetryStatus } from '../../store/retry-rule.ts';

/** 1 s, 2 s, 4 s … up to 5 min: quick for a blip, patient with a machine that is down. */
const DEFAULT_RETRY = { baseMs: 1_000, maxMs: 300_000 };

/** The store request for one finish at `now`; a retry's backoff gets its own jitter. */
export function finishRequest(
  settings: Pick<QueueSettings, 'retry'>,
  body: FinishBody,
  now: number,
  runner?: string,
): FinishRequest {
  const { taskId, leaseToken, outcome } = body;
  const req: FinishRequest = { taskId, leaseToken, outcome, now };
  if (runner !== undefined) req.runner = runner;
  // Only a failure may retry (retry-rule.ts): a success needs no backoff drawn.
  if (mayRetryStatus(outcome.status)) {
    req.retry = { ...(settings.retry ?? DEFAULT_RETRY), jitter: 0.5 + Math.random() / 2 };
  }
  return req;
}

/**
 * What a finish that changed nothing answers. When the task ended by a finish under this very
 * lease, with this very outcome (and, for a token bound to a runner, on that runner), this one
 * repeats it: the server stored it but its answer was lost (a dropped connection, or a server
 * that died after its commit). It is answered with the task as stored, so the runner does not
 * report a stored outcome as dropped. Otherwise it says why: another runner's lease, for a token
 * bound to one runner (`forbidden`), or a lost lease. Read only when refused: a finish that
 * succeeds does not pay for the checks.
 */
export async function refusedFinish(
  store: Pick<Store, 'endedUnder' | 'getLease' | 'getTask'>,
  body: FinishBody,
  runner?: string,
): Promise<StoredTask | AppError> {
  const { taskId } = body;
  if (await store.endedUnder(taskId, body.leaseToken)) {
    const task = await store.getTask(taskId);
    const sameRunner = runner === undefined || task?.runner === runner;
    const sameOutcome =
      task?.outcome !== undefined && isDeepStrictEqual(task.outcome, body.outcome);
    if (task !== undefined && sameRunner && sameOutcome) return task;
  }
  if (runner === undefined) return leaseLost(taskId);
  const holder = (await store.getLease(taskId))?.runner;
  return holder !== undefined && holder !== runner
    ? heldByAnotherRunner(runner, taskId, holder)
    : leaseLost(taskId);
}

/** A token bound to runner `bound` acting on a task whose lease runner `holder` holds. */
export function heldByAnotherRunner(bound: string, taskId: string, holder: string): AppError {
  return new AppError(
    'forbidden',
    `This token belongs to runner '${bound}'; task ${taskId} is held by runner '${holder}'`,
  );
}

function leaseLost(taskId: string): AppError {
  return new AppError('lease_lost', `The lease on task ${taskId} is no longer held`);
}
