// Exponential backoff with full jitter, so a server blip does not make every runner return at once.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Injected for tests; defaults to Math.random. */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (1-based): a random value in [cap/2, cap] where
 * cap = min(maxMs, baseMs * 2^(attempt-1)). Half-jitter keeps a floor so retries never spin.
 * @example backoffMs(3, { baseMs: 250, maxMs: 30_000 }) // between 500 and 1000
 */
export function backoffMs(attempt: number, opts: BackoffOptions): number {
  const cap = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  const random = opts.random ?? Math.random;
  return Math.round(cap / 2 + random() * (cap / 2));
}
