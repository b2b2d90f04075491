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

export interface Authenticator {
  (authorization: string | undefined): Promise<Principal | undefined>;
  /** Drops cached lookups; called on every revoke so a revoked token stops working at once. */
  forget(): void;
}

/**
 * A scoped token is looked up at most once per CACHE_MS per secret: the lookup (hash, query,
 * last-used write) was 5–7% of server CPU under load. Revokes through this server clear the cache.
 */
const CACHE_MS = 5_000;
const CACHE_MAX = 10_000;

export function createAuthenticator(
  store: Store,
  clock: Clock,
  allRolesToken?: string,
): Authenticator {
  const lookUp = createLookup(store, clock, allRolesToken);
  const cache = new Map<string, { principal: Principal; until: number }>();
  const authenticate = async (authorization: string | undefined) => {
    const secret = bearerSecret(authorization);
    if (!secret) return undefined;
    const hit = cache.get(secret);
    if (hit && hit.until > clock.now()) return hit.principal;
    const principal = await lookUp(secret);
    if (cache.size >= CACHE_MAX) cache.clear();
    // Only known tokens are cached, so guessing cannot fill the cache.
    if (principal) cache.set(secret, { principal, until: clock.now() + CACHE_MS });
    return principal;
  };
  return Object.assign(authenticate, { forget: () => cache.clear() });
}

function createLookup(store: Store, clock: Clock, allRolesToken?: string) {
  const configured = allRolesToken
    ? createHash('sha256').update(allRolesToken).digest()
    : undefined;
  return async (secret: string): Promise<Principal | undefined> => {
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
