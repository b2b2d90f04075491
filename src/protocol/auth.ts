// Token roles and the token records admins manage.
import { Type, type Static } from 'typebox';

export const ROLES = ['client', 'runner', 'admin'] as const;
export const Role = Type.Enum(ROLES);
export type Role = (typeof ROLES)[number];

export const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Role,
  /** A runner token may act only as this runner. */
  runner: Type.Optional(Type.String()),
  createdAt: Type.Integer(),
  lastUsedAt: Type.Optional(Type.Integer()),
});
export type TokenInfo = Static<typeof TokenInfo>;

export const CreateTokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    role: Role,
    runner: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type CreateTokenBody = Static<typeof CreateTokenBody>;

export const CreatedToken = Type.Object({ token: TokenInfo, secret: Type.String() });
export type CreatedToken = Static<typeof CreatedToken>;

export const RunnerInfo = Type.Object({
  name: Type.String(),
  instanceId: Type.String(),
  labels: Type.Array(Type.String()),
  capacity: Type.Integer(),
  /** Tasks it holds a lease on now. */
  running: Type.Integer(),
  kinds: Type.Array(Type.String()),
  version: Type.String(),
  policyDigest: Type.Optional(Type.String()),
  firstSeenAt: Type.Integer(),
  lastSeenAt: Type.Integer(),
  online: Type.Boolean(),
});
export type RunnerInfo = Static<typeof RunnerInfo>;

/** Enrolment codes live minutes, not days: long enough to copy to another machine, no longer. */
export const ENROLLMENT_TTL = { defaultMs: 15 * 60_000, minMs: 60_000, maxMs: 24 * 60 * 60_000 };

export const CreateEnrollmentBody = Type.Object(
  {
    runner: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    ttlMs: Type.Optional(
      Type.Integer({ minimum: ENROLLMENT_TTL.minMs, maximum: ENROLLMENT_TTL.maxMs }),
    ),
  },
  { additionalProperties: false },
);
export type CreateEnrollmentBody = Static<typeof CreateEnrollmentBody>;

/** The code is shown once; the server keeps only its hash. */
export const CreatedEnrollment = Type.Object({
  id: Type.String(),
  runner: Type.String(),
  code: Type.String(),
  expiresAt: Type.Integer(),
});
export type CreatedEnrollment = Static<typeof CreatedEnrollment>;

export const EnrollBody = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export type EnrollBody = Static<typeof EnrollBody>;
