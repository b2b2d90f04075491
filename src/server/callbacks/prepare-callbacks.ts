// Turns a task's `callback` request into the rows stored with it, refusing at create what could
// never be delivered: a malformed target, or no secret in the task and none configured.
import { AppError } from '../../protocol/errors.ts';
import { CallbackRequest } from '../../protocol/callbacks.ts';
import { parseWith } from '../../protocol/validate.ts';
import type { NewCallback } from '../../store/types.ts';

/** Which secrets the server has configured (the values stay with the dispatcher). */
export interface ConfiguredSecrets {
  botToken: boolean;
  webhookSecret: boolean;
}

/** Visible ASCII only: a token with a space or newline breaks the header (and fetch echoes it). */
export const HEADER_SAFE = /^[\x21-\x7e]+$/;

const bad = (message: string) => new AppError('bad_request', message);

/**
 * Validates `request` (v1 bodies arrive schema-checked; the legacy routes pass theirs as is) and
 * returns the callbacks to store. Errors name the field, never echo a secret.
 * @example prepareCallbacks({ discord: { channel: '123' } }, { botToken: true, webhookSecret: false })
 */
export function prepareCallbacks(request: unknown, configured: ConfiguredSecrets): NewCallback[] {
  if (request === undefined || request === null) return [];
  const parsed = parseWith(CallbackRequest, withoutBlanks(request), 'callback');
  const callbacks: NewCallback[] = [];
  if (parsed.discord) callbacks.push(discordCallback(parsed.discord, configured));
  if (parsed.webhook) callbacks.push(webhookCallback(parsed.webhook, configured));
  return callbacks;
}

function discordCallback(
  { channel, botToken }: NonNullable<CallbackRequest['discord']>,
  configured: ConfiguredSecrets,
): NewCallback {
  if (botToken !== undefined && !HEADER_SAFE.test(botToken)) {
    throw bad('callback.discord.botToken: must be visible ASCII without spaces');
  }
  if (botToken === undefined && !configured.botToken) {
    throw bad(
      'callback.discord.botToken: is required, as this server has no bot token configured (CALLBACK_BOT_TOKEN)',
    );
  }
  return { kind: 'discord', target: channel, ...(botToken ? { secret: botToken } : {}) };
}

function webhookCallback(
  { url, secret }: NonNullable<CallbackRequest['webhook']>,
  configured: ConfiguredSecrets,
): NewCallback {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  const web = parsed?.protocol === 'http:' || parsed?.protocol === 'https:';
  if (!parsed || !web || parsed.username !== '' || parsed.password !== '') {
    throw bad('callback.webhook.url: must be an http or https URL without credentials');
  }
  if (secret === undefined && !configured.webhookSecret) {
    throw bad(
      'callback.webhook.secret: is required, as this server has no webhook secret configured (OUTPOST_WEBHOOK_SECRET)',
    );
  }
  return { kind: 'webhook', target: parsed.href, ...(secret ? { secret } : {}) };
}

/**
 * Drops undefined and empty-string fields one level down: the legacy routes pass
 * `{discord: {channel, botToken: callbackBotToken}}` whether or not the old client sent a token.
 */
function withoutBlanks(request: unknown): unknown {
  if (!isObject(request)) return request;
  const entries = Object.entries(request).map(([key, value]): [string, unknown] => {
    if (!isObject(value)) return [key, value];
    const kept = Object.entries(value).filter(([, v]) => v !== undefined && v !== '');
    return [key, Object.fromEntries(kept)];
  });
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
