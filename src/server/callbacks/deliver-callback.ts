// One delivery attempt of a claimed callback: post the answer (Discord: part by part, each one
// recorded before the next, so nothing is posted twice) or the signed webhook, then settle it:
// sent, wait as told (429), retry with backoff, or fail for good with one short notice.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs } from '../../lib/backoff.ts';
import type { Clock } from '../../lib/clock.ts';
import type { CallbackEnd, ClaimedCallback, Store, StoredTask } from '../../store/types.ts';
import type { CallbackSettings } from './callback-config.ts';
import { chatMessage, deliveryFailureNotice, webhookBody } from './callback-content.ts';
import { discordRequest } from './discord-request.ts';
import { bucketPauseMs, postJson, type FetchLike, type PostResult } from './post-json.ts';
import { splitMessage } from './split-message.ts';
import { webhookRequest } from './webhook-request.ts';

export interface DeliveryContext {
  store: Store;
  clock: Clock;
  settings: CallbackSettings;
  /** Aborted when the server stops: the attempt ends unsettled and the next start resumes it. */
  signal: AbortSignal;
  claimToken: string;
  /** How long each claim (and each renewal after a part) holds. */
  claimMs: number;
  requestTimeoutMs: number;
  fetch?: FetchLike;
}

/** How the attempt ended; `lost` when another claimer took the callback over. */
export type DeliveryEnd =
  | { settled: 'sent' | 'lost' }
  | { settled: 'retry'; nextAt: number }
  | { settled: 'failed'; error: string };

type Failure = Exclude<PostResult, { ok: true }>;

const final = (error: string): Failure => ({ ok: false, retry: 'never', error });

/** A failure notice would fail the same way after these: bad token, no access, no channel. */
const NO_NOTICE_AFTER = new Set([401, 403, 404]);

export async function deliverCallback(
  cb: ClaimedCallback,
  ctx: DeliveryContext,
): Promise<DeliveryEnd> {
  const task = await ctx.store.getTask(cb.taskId);
  const secret = cb.secret ?? configuredSecret(cb, ctx.settings);
  let failure: Failure | 'lost' | undefined;
  if (!task) failure = final('the task no longer exists');
  else if (!secret) failure = final(missingSecret(cb));
  else if (cb.kind === 'discord') failure = await postAnswer(cb, task, secret, ctx);
  else failure = await postWebhook(cb, task, secret, ctx);
  if (failure === 'lost') return { settled: 'lost' };
  if (!failure) return (await settle(ctx, cb, { result: 'sent' })) ? { settled: 'sent' } : LOST;
  return settleFailure(cb, task, secret, failure, ctx);
}

const LOST = { settled: 'lost' } as const;

function configuredSecret(cb: ClaimedCallback, settings: CallbackSettings): string | undefined {
  return cb.kind === 'discord' ? settings.botToken : settings.webhookSecret;
}

function missingSecret(cb: ClaimedCallback): string {
  return cb.kind === 'discord'
    ? 'no bot token: the task brought none and CALLBACK_BOT_TOKEN is not set'
    : 'no webhook secret: the task brought none and OUTPOST_WEBHOOK_SECRET is not set';
}

/** Posts the parts not yet sent, in order, recording each before the next. */
async function postAnswer(
  cb: ClaimedCallback,
  task: StoredTask,
  token: string,
  ctx: DeliveryContext,
): Promise<Failure | 'lost' | undefined> {
  const parts = splitMessage(chatMessage(task));
  if (cb.parts !== parts.length && !(await progress(ctx, cb, parts.length, cb.sentParts))) {
    return 'lost';
  }
  for (let i = cb.sentParts; i < parts.length; i++) {
    const message = { apiBaseUrl: ctx.settings.apiBaseUrl, channel: cb.target, token };
    const result = await post(ctx, discordRequest({ ...message, content: parts[i]! }));
    if (!result.ok) return result;
    if (!(await progress(ctx, cb, parts.length, i + 1))) return 'lost';
    const pause = bucketPauseMs(result.headers);
    if (pause > 0 && i + 1 < parts.length) await sleep(pause, undefined, { signal: ctx.signal });
  }
  return undefined;
}

async function postWebhook(
  cb: ClaimedCallback,
  task: StoredTask,
  secret: string,
  ctx: DeliveryContext,
): Promise<Failure | undefined> {
  const request = webhookRequest(cb.target, secret, task.id, webhookBody(task), ctx.clock.now());
  const result = await post(ctx, request);
  return result.ok ? undefined : result;
}

function post(
  ctx: DeliveryContext,
  request: Pick<Parameters<typeof postJson>[0], 'url' | 'body' | 'headers' | 'label'>,
): Promise<PostResult> {
  const { signal, requestTimeoutMs: timeoutMs, fetch } = ctx;
  return postJson({ ...request, signal, timeoutMs, now: ctx.clock.now(), fetch });
}

/** Waits as told (uncounted), retries after a backoff while attempts remain, else fails. */
async function settleFailure(
  cb: ClaimedCallback,
  task: StoredTask | undefined,
  secret: string | undefined,
  failure: Failure,
  ctx: DeliveryContext,
): Promise<DeliveryEnd> {
  const now = ctx.clock.now();
  const error = redact(failure.error, [secret, ctx.settings.botToken, ctx.settings.webhookSecret]);
  const { maxAttempts, retryBaseMs, retryMaxMs } = ctx.settings;
  let nextAt: number | undefined;
  if (failure.retry === 'rate_limited') nextAt = now + failure.retryAfterMs;
  else if (failure.retry === 'backoff' && cb.attempts + 1 < maxAttempts) {
    nextAt = now + backoffMs(cb.attempts + 1, { baseMs: retryBaseMs, maxMs: retryMaxMs });
  }
  if (nextAt !== undefined) {
    const counted = failure.retry !== 'rate_limited';
    const settled = await settle(ctx, cb, { result: 'retry', nextAt, error, counted });
    return settled ? { settled: 'retry', nextAt } : LOST;
  }
  const data = await tryNotice(cb, task, secret, failure, error, ctx);
  const settled = await settle(ctx, cb, { result: 'failed', error, data });
  return settled ? { settled: 'failed', error } : LOST;
}

/** The answer could not be posted: one short notice to the channel, not retried. */
async function tryNotice(
  cb: ClaimedCallback,
  task: StoredTask | undefined,
  token: string | undefined,
  failure: Failure,
  error: string,
  ctx: DeliveryContext,
): Promise<Record<string, unknown> | undefined> {
  if (cb.kind !== 'discord' || !task || !token) return undefined;
  if ('status' in failure && failure.status !== undefined && NO_NOTICE_AFTER.has(failure.status)) {
    return { notice: 'skipped' };
  }
  const content = deliveryFailureNotice(task, error);
  const message = { apiBaseUrl: ctx.settings.apiBaseUrl, channel: cb.target, token, content };
  const result = await post(ctx, discordRequest(message));
  return { notice: result.ok ? 'sent' : 'failed' };
}

function progress(
  ctx: DeliveryContext,
  cb: ClaimedCallback,
  parts: number,
  sentParts: number,
): Promise<boolean> {
  const now = ctx.clock.now();
  const ref = { id: cb.id, claimToken: ctx.claimToken, now, claimedUntil: now + ctx.claimMs };
  return ctx.store.recordCallbackProgress({ ...ref, parts, sentParts });
}

function settle(ctx: DeliveryContext, cb: ClaimedCallback, end: CallbackEnd): Promise<boolean> {
  const ref = { id: cb.id, claimToken: ctx.claimToken, now: ctx.clock.now() };
  return ctx.store.settleCallback({ ...ref, ...end });
}

/** Belt and braces: whatever an error says, no secret of ours is stored or logged with it. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.replaceAll(secret, '[redacted]');
  return out;
}
