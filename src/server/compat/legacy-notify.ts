// The legacy `POST /notify {channel, message}`: posts a message to a Discord-compatible channel
// with the server's bot token, split like a callback and with mentions disabled. Synchronous, as
// before: `{ok:true}` once every part is posted, `502` with the upstream status otherwise.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../protocol/errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { CallbackSettings } from '../callbacks/callback-config.ts';
import { redact } from '../callbacks/deliver-callback.ts';
import { discordRequest } from '../callbacks/discord-request.ts';
import { bucketPauseMs, postJson, type PostResult } from '../callbacks/post-json.ts';
import { splitMessage } from '../callbacks/split-message.ts';
import { isRecord } from './legacy-shapes.ts';

const config = { access: 'client', legacy: true } as const;
const CHANNEL = /^[0-9]{1,64}$/;
/** A caller waits for the answer, so only a short rate-limit wait is sat out, a few times. */
const MAX_WAIT_MS = 10_000;
const MAX_RATE_LIMITED = 3;
const REQUEST_TIMEOUT_MS = 10_000;

const nonBlank = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

export function registerLegacyNotifyRoute(
  app: FastifyInstance,
  deps: { callbacks: CallbackSettings; clock: Clock },
): void {
  app.post('/notify', { config, schema: { hide: true } }, async (request, reply) => {
    const { channel, message } = isRecord(request.body) ? request.body : {};
    if (!nonBlank(channel) || !nonBlank(message)) {
      throw new AppError('bad_request', 'channel and message are required');
    }
    if (!CHANNEL.test(channel.trim())) {
      throw new AppError('bad_request', 'channel must be a channel id (digits only)');
    }
    const token = deps.callbacks.botToken;
    if (!token) {
      request.log.warn('POST /notify refused: no bot token configured');
      const error = 'No bot token configured: set CALLBACK_BOT_TOKEN on the server';
      return reply.status(500).send({ error });
    }
    const error = await postAll(channel.trim(), splitMessage(message), token, deps);
    if (error === undefined) return { ok: true };
    request.log.warn({ error }, 'POST /notify failed upstream');
    return reply.status(502).send({ error });
  });
}

/** Posts the parts in order; the first failure ends it, saying how far it got. */
async function postAll(
  channel: string,
  parts: string[],
  token: string,
  deps: { callbacks: CallbackSettings; clock: Clock },
): Promise<string | undefined> {
  for (const [i, content] of parts.entries()) {
    const message = { apiBaseUrl: deps.callbacks.apiBaseUrl, channel, token, content };
    const result = await postPart(discordRequest(message), deps.clock);
    if (!result.ok) {
      const sofar = parts.length > 1 ? ` (${i} of ${parts.length} parts posted)` : '';
      return redact(`${result.error}${sofar}`, [token]);
    }
    const pause = bucketPauseMs(result.headers);
    if (pause > 0 && i + 1 < parts.length) await sleep(Math.min(pause, MAX_WAIT_MS));
  }
  return undefined;
}

/** One part, sitting out a few short 429 waits. */
async function postPart(
  request: ReturnType<typeof discordRequest>,
  clock: Clock,
): Promise<PostResult> {
  // Nothing aborts it: once the first part is out, the rest should follow even if the caller left.
  const signal = new AbortController().signal;
  for (let limited = 0; ; limited++) {
    const result = await postJson({
      ...request,
      signal,
      timeoutMs: REQUEST_TIMEOUT_MS,
      now: clock.now(),
    });
    if (result.ok || result.retry !== 'rate_limited') return result;
    if (limited + 1 >= MAX_RATE_LIMITED || result.retryAfterMs > MAX_WAIT_MS) return result;
    await sleep(result.retryAfterMs);
  }
}
