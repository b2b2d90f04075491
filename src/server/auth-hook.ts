// The onRequest hook that authenticates every non-public route and checks its role. Failures
// count toward the per-address limit, so guessing tokens soon answers 429 instead of 401.
import type { FastifyInstance } from 'fastify';
import { AppError } from '../protocol/errors.ts';
import type { Authenticator } from './auth.ts';
import type { AuthFailureCounter } from './rate-limits.ts';

export function installAuth(
  app: FastifyInstance,
  authenticate: Authenticator,
  countAuthFailure: AuthFailureCounter,
): void {
  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access ?? 'public';
    if (access === 'public') return;
    const principal = await authenticate(request.headers.authorization);
    if (!principal) {
      throw await countAuthFailure(request, reply, new AppError('unauthorized', 'Unauthorized'));
    }
    if (principal.role !== 'admin' && principal.role !== access) {
      throw new AppError(
        'forbidden',
        `This route needs a ${access} token; yours is a ${principal.role} token`,
      );
    }
    request.principal = principal;
  });
}
