// Bearer-token authentication and role checks. Secrets are stored as SHA-256 hashes; the
// configured all-roles token is compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role } from '../protocol/auth.ts';
import type { Store } from '../store/types.ts';
import type { Clock } from '../lib/clock.ts';

/** Who is calling. The configured token (OUTPOST_TOKEN / WORKER_TOKEN) acts as `admin`. */
export interface Principal {
  role: Role;
  name: string;
  /** A runner token may act only as this runner. */
  runner?: string;
}

/** The role a route needs; `public` routes need no token. */
export type Access = Role | 'public';

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Admin may do everything; otherwise the role must match exactly. */
export function allows(principal: Principal, needed: Role): boolean {
  return principal.role === 'admin' || principal.role === needed;
}

export type Authenticate = (authorization: string | undefined) => Promise<Principal | undefined>;

export function createAuthenticator(
  store: Store,
  clock: Clock,
  allRolesToken?: string,
): Authenticate {
  const configured = allRolesToken
    ? createHash('sha256').update(allRolesToken).digest()
    : undefined;
  return async (authorization) => {
    const secret = bearerSecret(authorization);
    if (!secret) return undefined;
    const digest = createHash('sha256').update(secret).digest();
    if (configured && timingSafeEqual(digest, configured))
      return { role: 'admin', name: 'configured-token' };
    // Lookup by hash: the hash of a guess reveals nothing about stored hashes through timing.
    const token = await store.findToken(digest.toString('hex'), clock.now());
    if (!token) return undefined;
    return { role: token.role, name: token.name, runner: token.runner };
  };
}

function bearerSecret(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
