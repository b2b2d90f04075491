// A loopback TCP proxy for fault tests: forwards to a target port and, while faults are on, delays,
// drops (black-holes) or resets connections at random, counting connections and HTTP requests so a
// test can tell a reconnecting client from one in a busy loop. Randomness is seeded (reproducible).
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Faults {
  /** Chance, per chunk from either side, that the connection is reset (RST to both ends). */
  resetRate: number;
  /** Chance, per chunk from the client, that the connection goes silent (black-holed)... */
  dropRate: number;
  /** ...for up to this long, then it is reset, like a middlebox timing the flow out. */
  maxDropMs: number;
  /** Chance, per chunk, that it is held back for up to `maxDelayMs` (order is kept). */
  delayRate: number;
  maxDelayMs: number;
}

export interface ProxyStats {
  connections: number;
  /** Client chunks that start an HTTP request (a method at the start of a chunk). */
  requests: number;
  resets: number;
  drops: number;
  delays: number;
}

export interface TcpProxy {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  readonly stats: ProxyStats;
  /** Turns faults on (or changes them). */
  setFaults(faults: Faults): void;
  /** Resets the connection carrying the reply to the next request for `path` (e.g. a claim). */
  cutNextReply(path: string): void;
  /** Faults off; black-holed connections are reset now, the rest flow. */
  heal(): void;
  close(): Promise<void>;
}

const REQUEST_START = /^(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) \//;

/** Small deterministic PRNG (mulberry32), so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Pair {
  client: Socket;
  upstream: Socket;
  dropped: boolean;
  /** The reply now expected on this connection is to be cut. */
  cutReply: boolean;
}

/**
 * Starts a proxy on 127.0.0.1 in front of `targetPort`; faults start off.
 * @example const proxy = await startTcpProxy(serverPort, seededRandom(42));
 */
export async function startTcpProxy(targetPort: number, random: () => number): Promise<TcpProxy> {
  const stats: ProxyStats = { connections: 0, requests: 0, resets: 0, drops: 0, delays: 0 };
  const pairs = new Set<Pair>();
  let faults: Faults | undefined;
  let cutReplyTo: string | undefined;
  let closed = false;

  const cut = (pair: Pair): void => {
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
  };
  const reset = (pair: Pair): void => {
    stats.resets += 1;
    cut(pair);
  };

  /** Forwards one direction, keeping chunk order even when some chunks are delayed. */
  const forward = (pair: Pair, from: Socket, to: Socket, fromClient: boolean): void => {
    let queue = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (fromClient && REQUEST_START.test(chunk.toString('latin1', 0, 8))) stats.requests += 1;
      if (
        fromClient &&
        cutReplyTo &&
        chunk.toString('latin1', 0, 200).includes(` ${cutReplyTo} `)
      ) {
        cutReplyTo = undefined;
        pair.cutReply = true;
      }
      if (!fromClient && pair.cutReply) return reset(pair);
      if (pair.dropped) return;
      const roll = random();
      const f = faults;
      if (f && roll < f.resetRate) return reset(pair);
      if (f && fromClient && roll < f.resetRate + f.dropRate) {
        stats.drops += 1;
        pair.dropped = true;
        setTimeout(() => cut(pair), Math.ceil(random() * f.maxDropMs)).unref();
        return;
      }
      const delayMs =
        f && roll < f.resetRate + f.dropRate + f.delayRate ? Math.ceil(random() * f.maxDelayMs) : 0;
      if (delayMs > 0) stats.delays += 1;
      queue = queue
        .then(() => (delayMs > 0 ? new Promise((r) => setTimeout(r, delayMs)) : undefined))
        .then(() => {
          if (!pair.dropped && !to.destroyed) to.write(chunk);
        });
    });
    from.on('end', () => void queue.then(() => to.end()));
  };

  const server: Server = createServer((client) => {
    // A runner keeps reconnecting while the test tears down; once closing, nothing gets through.
    if (closed) return void client.destroy();
    stats.connections += 1;
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, dropped: false, cutReply: false };
    pairs.add(pair);
    const close = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    forward(pair, client, upstream, true);
    forward(pair, upstream, client, false);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    setFaults: (next) => (faults = next),
    cutNextReply: (path) => (cutReplyTo = path),
    heal: () => {
      faults = undefined;
      for (const pair of pairs) if (pair.dropped) cut(pair);
    },
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        server.close(() => resolve());
        for (const pair of pairs) cut(pair);
      }),
  };
}
