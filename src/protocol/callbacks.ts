// Callbacks on the wire: where the server posts a task's answer when it ends (a Discord-compatible
// channel, or a signed webhook), and the delivery state a read shows. Secrets go in, never out.
import { Type, type Static } from 'typebox';

export const DiscordCallback = Type.Object(
  {
    /** The channel id (a snowflake) the answer is posted to. */
    channel: Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9]+$' }),
    /** A bot token for this task only; the server's configured token otherwise. Never returned. */
    botToken: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const WebhookCallback = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://' }),
    /** HMAC-SHA256 key for this task; the server's configured secret otherwise. Never returned. */
    secret: Type.Optional(Type.String({ minLength: 16, maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const CallbackRequest = Type.Object(
  {
    discord: Type.Optional(DiscordCallback),
    webhook: Type.Optional(WebhookCallback),
  },
  { additionalProperties: false },
);
export type CallbackRequest = Static<typeof CallbackRequest>;

export const CALLBACK_KINDS = ['discord', 'webhook'] as const;
export const CALLBACK_STATES = ['waiting', 'sending', 'sent', 'failed'] as const;

/** What a task read shows of one callback: where it goes and how delivery went, no secrets. */
export const CallbackStatus = Type.Object({
  kind: Type.Enum(CALLBACK_KINDS),
  /** The channel id or the webhook URL. */
  target: Type.String(),
  state: Type.Enum(CALLBACK_STATES),
  attempts: Type.Integer({ minimum: 0 }),
  /** Discord: messages posted so far, of `parts`. */
  sentParts: Type.Optional(Type.Integer({ minimum: 0 })),
  parts: Type.Optional(Type.Integer({ minimum: 0 })),
  lastError: Type.Optional(Type.String()),
  sentAt: Type.Optional(Type.Integer()),
});
export type CallbackStatus = Static<typeof CallbackStatus>;
