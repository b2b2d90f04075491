// Token rotation and enrolment codes. Rotation and revocation clear the authenticator's cache, so
// an old secret stops working on the next request; an enrolment code is exchanged at most once.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, ErrorBody } from '../../protocol/errors.ts';
import {
  CreatedEnrollment,
  CreatedToken,
  CreateEnrollmentBody,
  ENROLLMENT_TTL,
  EnrollBody,
} from '../../protocol/auth.ts';
import type { EnrollmentRefusal } from '../../store/types.ts';
import { newId, newSecret } from '../../lib/ids.ts';
import { hashSecret } from '../auth.ts';
import type { AdminDeps } from './admin.ts';
import type { AuthFailureCounter } from '../rate-limits.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const tags = ['admin'];
const admin = { access: 'admin' } as const;

function refusal(why: EnrollmentRefusal): AppError {
  if (why === 'unknown') return new AppError('unauthorized', 'Unknown enrolment code');
  return new AppError(
    'bad_request',
    `This enrolment code ${why === 'used' ? 'was already used' : 'has expired'}; ask an admin for a new one`,
  );
}

export interface IdentityDeps extends AdminDeps {
  /** A wrong enrolment code is a failed authentication: it counts toward the address's limit. */
  countAuthFailure: AuthFailureCounter;
}

export function registerIdentityRoutes(fastify: FastifyInstance, deps: IdentityDeps): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { store, clock } = deps;

  app.post(
    '/v1/tokens/:id/rotate',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Give a token a new secret (shown once); the old secret stops working at once',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
        response: { 200: CreatedToken, ...errors },
      },
    },
    async (request) => {
      const secret = `op_${newSecret()}`;
      const token = await store.rotateToken(request.params.id, hashSecret(secret), clock.now());
      if (!token) throw new AppError('not_found', `Token ${request.params.id} not found`);
      deps.onRevoke();
      return { token, secret };
    },
  );

  app.post(
    '/v1/enrollments',
    {
      config: admin,
      schema: {
        tags,
        summary: 'A one-time code a runner exchanges for a token bound to its name',
        body: CreateEnrollmentBody,
        response: { 201: CreatedEnrollment, ...errors },
      },
    },
    async (request, reply) => {
      const { runner, ttlMs = ENROLLMENT_TTL.defaultMs } = request.body;
      const code = `opc_${newSecret()}`;
      const id = newId();
      const expiresAt = clock.now() + ttlMs;
      await store.createEnrollment({ id, runner, hash: hashSecret(code), expiresAt }, clock.now());
      return reply.status(201).send({ id, runner, code, expiresAt });
    },
  );

  app.post(
    '/v1/enroll',
    {
      // No token: the code is the credential. Failures count toward the auth-failure limit.
      config: { access: 'public' },
      schema: {
        tags: ['runner'],
        summary: 'Exchange a one-time enrolment code for a runner token (secret shown once)',
        security: [],
        body: EnrollBody,
        response: { 201: CreatedToken, ...errors },
      },
    },
    async (request, reply) => {
      const secret = `op_${newSecret()}`;
      const token = { id: newId(), hash: hashSecret(secret) };
      const result = await store.redeemEnrollment(
        hashSecret(request.body.code),
        token,
        clock.now(),
      );
      if ('refused' in result)
        throw await deps.countAuthFailure(request, reply, refusal(result.refused));
      return reply.status(201).send({ token: result.token, secret });
    },
  );
}
