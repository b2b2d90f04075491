// An AbortSignal that fires when a long poll's client goes away, so its waiter is released at once.
import type { FastifyReply } from 'fastify';

export function connectionSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // 'close' on the response fires when the socket closes or the response ends; only the former
  // (not yet finished) means the client left.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
