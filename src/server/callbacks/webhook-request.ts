// A signed webhook: the receiver checks `X-Outpost-Signature` = `sha256=` + hex
// HMAC-SHA256(secret, `${X-Outpost-Timestamp}.${raw body}`), and rejects old timestamps.
import { createHmac } from 'node:crypto';
import { SERVER_VERSION } from '../version.ts';

export const SIGNATURE_HEADER = 'x-outpost-signature';
export const TIMESTAMP_HEADER = 'x-outpost-timestamp';
export const TASK_ID_HEADER = 'x-outpost-task-id';

/**
 * The signature header value for `body` sent at `timestamp` (epoch ms).
 * @example signWebhook('s3cret-s3cret-16', 1700000000000, '{}') // 'sha256=5f…'
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `sha256=${mac}`;
}

/** The parts of a PostRequest for one delivery of `payload` about `taskId`. */
export function webhookRequest(
  url: string,
  secret: string,
  taskId: string,
  payload: unknown,
  now: number,
) {
  const body = JSON.stringify(payload);
  return {
    url,
    body,
    headers: {
      [TIMESTAMP_HEADER]: String(now),
      [SIGNATURE_HEADER]: signWebhook(secret, now, body),
      [TASK_ID_HEADER]: taskId,
      'user-agent': `Outpost/${SERVER_VERSION}`,
    },
    label: 'webhook',
  };
}
