// Rate limits through @fastify/rate-limit: client writes (submissions) per token, and failed
// authentications per address. Both answer 429 with Retry-After in the route's error shape.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { AppError } from '../protocol/errors.ts';
import type { RateLimitConfig } from './limits-config.ts';

/** Returns the error to answer a failed authentication with: `refusal`, or 429 past the limit. */
export type AuthFailureCounter = (
  request: FastifyRequest,
  reply: FastifyReply,
  refusal: AppError,
) => Promise<AppError>;

/**
 * Must run before any route is added: the plugin attaches its hook to routes as they are added.
 * The submission limit covers every client POST (task submissions through /v1 and the legacy
 * routes, cancels, session resets), counted together per token, so no write path sidesteps it.
 */
export async function installRateLimits(
  app: FastifyInstance,
  limits: RateLimitConfig,
): Promise<AuthFailureCounter> {
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new AppError(
        'rate_limited',
        `Too many submissions with this token: at most ${context.max} per ` +
          `${Math.round(limits.rateLimitSubmitWindowMs / 1000)} s; retry in ${context.after}`,
        { retryAfterMs: context.ttl },
      ),
  });
  if (limits.rateLimitSubmitMax > 0) {
    // One handler (one counter store) for every client write, so they share the token's budget;
    // a per-route `config.rateLimit` would give each route a budget of its own.
    const submitLimit = app.rateLimit({
      max: limits.rateLimitSubmitMax,
      timeWindow: limits.rateLimitSubmitWindowMs,
      // Keyed after auth, by token: an address is often shared (NAT, a proxy, one bot host).
      keyGenerator: (request: FastifyRequest) => `token:${request.principal?.name ?? request.ip}`,
    });
    app.addHook('onRoute', (route: RouteOptions) => {
      if (route.method !== 'POST' || route.config?.access !== 'client') return;
      // preHandler runs after the onRequest auth hook, so request.principal is known.
      route.preHandler = [submitLimit, ...[route.preHandler ?? []].flat()];
    });
  }
  return authFailureCounter(app, limits);
}

function authFailureCounter(app: FastifyInstance, limits: RateLimitConfig): AuthFailureCounter {
  if (limits.rateLimitAuthFailMax === 0) return async (_request, _reply, refusal) => refusal;
  // Counts failures only: a valid token is never slowed by someone else's guesses.
  const count = app.createRateLimit({
    max: limits.rateLimitAuthFailMax,
    timeWindow: limits.rateLimitAuthFailWindowMs,
  });
  return async (request, reply, refusal) => {
    const limit = await count(request);
    if (limit.isAllowed || !limit.isExceeded) return refusal;
    void reply.header('retry-after', limit.ttlInSeconds);
    return new AppError(
      'rate_limited',
      `Too many failed authentications from this address; retry in ${limit.ttlInSeconds} s`,
      { retryAfterMs: limit.ttl },
    );
  };
}
