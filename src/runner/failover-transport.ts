// A runner given several server URLs (replicas on one PostgreSQL database) talks to one at a time
// and moves to the next when a request cannot reach it. Every replica serves every runner route
// from the same database, so the leases, heartbeats and finishes of running tasks carry on there.
import { isTimeoutError, type FetchLike } from '../sdk/http.ts';

/** Told when the runner moves from one server to another, with the failure that made it move. */
export type OnFailover = (from: string, to: string, error: unknown) => void;

/**
 * Wraps `inner` so requests built on `urls[0]` (the SDK client's base URL) go to the current
 * server instead. A network failure (refused, reset, cut reply: `inner` rejects without the
 * caller having aborted) moves the current server to the next URL, round the list, and the
 * request still fails: the runner's own retry with backoff sends it again, now to the next server.
 * It stays there while it answers; an HTTP error reply is an answer and moves nothing.
 */
export function failoverTransport(
  urls: readonly string[],
  inner: FetchLike,
  onFailover?: OnFailover,
): FetchLike {
  const first = urls[0];
  if (first === undefined) throw new Error('failoverTransport needs at least one URL');
  if (urls.length === 1) return inner;
  let current = 0;
  const failover: FetchLike = async (url, init) => {
    const used = current;
    const base = urls[used]!;
    const target = url.startsWith(first) ? base + url.slice(first.length) : url;
    try {
      return await inner(target, init);
    } catch (err) {
      // A timeout is the caller's own limit, as an abort is: the server may only be slow.
      if (init.signal?.aborted === true || isTimeoutError(err)) throw err;
      // Requests in flight together fail together; only the first moves on, so two failures from
      // one dead server do not move the runner past the next one and back.
      if (current === used) {
        current = (used + 1) % urls.length;
        onFailover?.(base, urls[current]!, err);
      }
      throw new Error(`${base}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  };
  failover.takesTimeout = inner.takesTimeout;
  return failover;
}
