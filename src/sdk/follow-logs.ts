// Following a task's output from any seq to its end, riding out a restarting server: the loop
// every viewer needs (`outpost run`, `outpost logs -f`, bots that relay progress).
import type { LogChunk } from '../protocol/output.ts';
import { backoffMs } from '../lib/backoff.ts';
import { isTransient, type OutpostClient } from './client.ts';
import { delay } from './delay.ts';

export interface FollowLogsOptions {
  /** Server seq already seen; 0 (the default) starts at the first chunk. */
  after?: number;
  /** Stop after what exists now instead of waiting for the task to end. */
  once?: boolean;
  signal?: AbortSignal;
  /** Long-poll length per request; default 30 s. */
  pollMs?: number;
}

/** Failed reads in a row (about a minute of backoff) before the error is thrown. */
const FOLLOW_RETRIES = 6;

/**
 * Yields every chunk after `after` in order, then waits for more until the task has ended and
 * its output is read. Returns early when `signal` aborts.
 * @example for await (const chunk of followLogs(client, id)) process.stdout.write(chunk.data);
 */
export async function* followLogs(
  client: Pick<OutpostClient, 'readLogs'>,
  id: string,
  opts: FollowLogsOptions = {},
): AsyncGenerator<LogChunk> {
  let after = opts.after ?? 0;
  let failures = 0;
  const waitMs = opts.once ? 0 : (opts.pollMs ?? 30_000);
  while (!opts.signal?.aborted) {
    let page;
    try {
      page = await client.readLogs(id, { after, waitMs, signal: opts.signal });
      failures = 0;
    } catch (err) {
      failures += 1;
      if (opts.signal?.aborted) return;
      if (!isTransient(err) || failures > FOLLOW_RETRIES) throw err;
      await delay(backoffMs(failures, { baseMs: 500, maxMs: 15_000 }), opts.signal);
      continue;
    }
    yield* page.chunks;
    after = page.lastSeq;
    if (page.done || (opts.once && page.chunks.length === 0)) return;
  }
}
