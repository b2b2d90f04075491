// The batch form of `POST /v1/runner/finish`: a busy runner reports every outcome that ended while
// its last finish was in flight in one request, committed in one transaction, answered per item.
import { AppError } from '../../protocol/errors.ts';
import type { FinishBody, FinishResult } from '../../protocol/runner.ts';
import type { LeaseService } from '../queue/lease-service.ts';

/**
 * Each outcome gets its own answer, in request order: a bound token reporting a task another
 * runner holds gets `forbidden` for that item, a stale lease `lease_lost`; neither fails the rest.
 * `runner` is the runner the token is bound to, if it is bound.
 */
export async function finishBatch(
  bodies: readonly FinishBody[],
  leases: LeaseService,
  runner: string | undefined,
): Promise<FinishResult[]> {
  const answers = await leases.finishAttempts(bodies, runner);
  return answers.map((answer, i) => {
    const taskId = bodies[i]!.taskId;
    if (answer instanceof AppError)
      return { taskId, error: { code: answer.code, message: answer.message } };
    return { taskId, state: answer.state };
  });
}
