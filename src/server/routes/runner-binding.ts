// A runner token bound to one runner name acts only as that runner: it names itself in hello,
// claim and heartbeat, and may only report (finish, logs) on attempts its runner holds.
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../protocol/errors.ts';
import type { LeaseInfo } from '../../store/types.ts';
import { heldByAnotherRunner } from '../queue/finish-requests.ts';

/** A runner token is bound to one runner name; it cannot act as another runner. */
export function assertRunner(request: FastifyRequest, name: string): void {
  const bound = request.principal?.runner;
  if (bound !== undefined && bound !== name) {
    throw new AppError('forbidden', `This token belongs to runner '${bound}', not '${name}'`);
  }
}

export type LeaseLookup = (taskId: string) => Promise<LeaseInfo | undefined>;

/**
 * Lease tokens already fence finish and logs, but a leaked lease token must not let another
 * runner's token report for it: a bound token must belong to the runner holding the lease.
 * Unbound principals (admin, the configured token) and tasks without a lease pass through, so the
 * route gives its usual 404 / lease-lost answer. One primary-key read, only for bound tokens.
 */
export async function assertLeaseHolder(
  request: FastifyRequest,
  taskId: string,
  getLease: LeaseLookup,
): Promise<void> {
  const bound = request.principal?.runner;
  if (bound === undefined) return;
  const lease = await getLease(taskId);
  if (lease !== undefined && lease.runner !== bound) {
    throw heldByAnotherRunner(bound, taskId, lease.runner);
  }
}
