// Graceful drain on app.close(): every open long poll is answered at once (claim polls with an
// empty list, task waits with the task as it is), and requests in flight finish before Fastify
// destroys the connections. New requests meanwhile get Fastify's 503 while it is closing.
import type { FastifyInstance } from 'fastify';
import type { WaiterHub } from './queue/waiters.ts';

/**
 * How long close waits for requests in flight once the long polls are answered. A store call takes
 * milliseconds; 5 s covers a slow disk and stays well inside a supervisor's stop timeout
 * (systemd 90 s, Docker 10 s) so the process exits on its own rather than being killed.
 */
export const DRAIN_GRACE_MS = 5_000;

/** Counts requests in flight and, on close, ends every wait and lets those requests finish. */
export function installDrain(app: FastifyInstance, hub: WaiterHub, graceMs = DRAIN_GRACE_MS) {
  let inFlight = 0;
  let idle: (() => void) | undefined;
  app.addHook('onRequest', async (_request, reply) => {
    inFlight += 1;
    // 'close' fires once the response is sent or the client has gone, whichever comes first.
    reply.raw.once('close', () => {
      inFlight -= 1;
      if (inFlight === 0) idle?.();
    });
  });
  app.addHook('preClose', async () => {
    hub.closeAll();
    if (inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      timer.unref();
      idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  });
}
