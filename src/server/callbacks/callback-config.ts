// Callback settings: where Discord-compatible messages go, the server's bot token and webhook key
// (used when a task brings none), and how delivery retries. The legacy names are aliases.
import {
  intField,
  msField,
  secretField,
  urlField,
  type FieldReader,
} from '../../lib/config-fields.ts';
import type { ServerConfig } from '../config.ts';
import { HEADER_SAFE } from './prepare-callbacks.ts';

export interface CallbackConfig {
  /** The Discord-compatible API that messages are posted to. */
  callbackApiBaseUrl: string;
  /** Bot token for Discord callbacks and `POST /notify`; never logged or returned. */
  callbackBotToken?: string;
  /** HMAC-SHA256 key for webhook callbacks that bring none; never logged or returned. */
  webhookSecret?: string;
  /** Delivery attempts per callback; a rate-limit wait is not one. */
  callbackMaxAttempts: number;
  /** Backoff between attempts: doubles from base, up to max, times a jitter in [0.5, 1]. */
  callbackRetryBaseMs: number;
  callbackRetryMaxMs: number;
}

export const CALLBACK_DEFAULTS = {
  callbackApiBaseUrl: 'https://discord.com/api/v10',
  // 2 s, 4 s, 8 s, 16 s, 32 s: a minute of trying covers a blip or a deploy, not a long outage.
  callbackMaxAttempts: 6,
  callbackRetryBaseMs: 2_000,
  callbackRetryMaxMs: 5 * 60_000,
} as const satisfies Partial<CallbackConfig>;

const VISIBLE_ASCII = { pattern: HEADER_SAFE, what: 'must be visible ASCII without spaces' };

export function readCallbackFields(r: FieldReader<ServerConfig>): CallbackConfig {
  const d = CALLBACK_DEFAULTS;
  const config: CallbackConfig = {
    callbackApiBaseUrl: r.read(
      'callbackApiBaseUrl',
      ['OUTPOST_CALLBACK_API_BASE_URL', 'CALLBACK_API_BASE_URL', 'DISCORD_API_BASE_URL'],
      urlField(),
      d.callbackApiBaseUrl,
    ),
    callbackMaxAttempts: r.read(
      'callbackMaxAttempts',
      ['OUTPOST_CALLBACK_MAX_ATTEMPTS'],
      intField(1, 100),
      d.callbackMaxAttempts,
    ),
    callbackRetryBaseMs: r.read(
      'callbackRetryBaseMs',
      ['OUTPOST_CALLBACK_RETRY_BASE_MS'],
      msField(0, 3_600_000),
      d.callbackRetryBaseMs,
    ),
    callbackRetryMaxMs: r.read(
      'callbackRetryMaxMs',
      ['OUTPOST_CALLBACK_RETRY_MAX_MS'],
      msField(0, 86_400_000),
      d.callbackRetryMaxMs,
    ),
  };
  const botToken = r.readOptional(
    'callbackBotToken',
    ['OUTPOST_CALLBACK_BOT_TOKEN', 'CALLBACK_BOT_TOKEN', 'DISCORD_BOT_TOKEN'],
    secretField(1, VISIBLE_ASCII),
  );
  // 16 characters, as a task's own `callback.webhook.secret` must have.
  const webhookSecret = r.readOptional(
    'webhookSecret',
    ['OUTPOST_WEBHOOK_SECRET'],
    secretField(16),
  );
  if (botToken !== undefined) config.callbackBotToken = botToken;
  if (webhookSecret !== undefined) config.webhookSecret = webhookSecret;
  return config;
}

/** What the dispatcher and `/notify` read; defaults fill what an app built in tests leaves out. */
export interface CallbackSettings {
  apiBaseUrl: string;
  botToken?: string;
  webhookSecret?: string;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export function callbackSettings(options: Partial<CallbackConfig>): CallbackSettings {
  const d = CALLBACK_DEFAULTS;
  const settings: CallbackSettings = {
    apiBaseUrl: (options.callbackApiBaseUrl ?? d.callbackApiBaseUrl).replace(/\/+$/, ''),
    maxAttempts: options.callbackMaxAttempts ?? d.callbackMaxAttempts,
    retryBaseMs: options.callbackRetryBaseMs ?? d.callbackRetryBaseMs,
    retryMaxMs: options.callbackRetryMaxMs ?? d.callbackRetryMaxMs,
  };
  if (options.callbackBotToken) settings.botToken = options.callbackBotToken;
  if (options.webhookSecret) settings.webhookSecret = options.webhookSecret;
  return settings;
}
