// The batch form of `POST /v1/runner/finish`: a busy runner reports every outcome that ended while
// its last finish was in flight in one request, committed in one transaction, answered per item.
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../protocol/errors.ts';
import type { FinishBody, FinishResult } from '../../protocol/runner.ts';
import type { TaskService } from '../queue/task-service.ts';
import { assertLeaseHolder, type LeaseLookup } from './runner-binding.ts';

/**
 * Each outcome gets its own answer, in request order: a bound token reporting a task another
 * runner holds gets `forbidden` for that item, a stale lease `lease_lost`; neither fails the rest.
 */
export async function finishBatch(
  request: FastifyRequest,
  bodies: readonly FinishBody[],
  tasks: TaskService,
  getLease: LeaseLookup,
): Promise<FinishResult[]> {
  const results: FinishResult[] = bodies.map((b) => ({ taskId: b.taskId }));
  const allowed: number[] = [];
  for (const [i, body] of bodies.entries()) {
    try {
      await assertLeaseHolder(request, body.taskId, getLease);
      allowed.push(i);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      results[i]!.error = { code: err.code, message: err.message };
    }
  }
  const finished = await tasks.finishAttempts(allowed.map((i) => bodies[i]!));
  for (const [j, answer] of finished.entries()) {
    const result = results[allowed[j]!]!;
    if (answer instanceof AppError) result.error = { code: answer.code, message: answer.message };
    else result.state = answer.state;
  }
  return results;
}
