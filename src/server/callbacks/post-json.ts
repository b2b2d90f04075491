// One POST of a callback (Discord message or webhook) and what its answer means for delivery:
// done, wait as told (429), retry with backoff (network, timeout, 408, 5xx), or give up. Error
// texts are built from status codes and error codes only, never from a request's headers.

export type PostResult =
  | { ok: true; headers: Headers }
  | { ok: false; retry: 'rate_limited'; retryAfterMs: number; error: string }
  | { ok: false; retry: 'backoff' | 'never'; error: string; status?: number };

export type FetchLike = typeof fetch;

export interface PostRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** Names the receiver in errors: "Discord API", "webhook". */
  label: string;
  /** Aborted when the server stops; the POST then rejects and the caller settles nothing. */
  signal: AbortSignal;
  timeoutMs: number;
  now: number;
  fetch?: FetchLike;
}

/** Longest wait a 429 may ask for; anything longer is a misreading, or a ban to give up on. */
const MAX_RETRY_AFTER_MS = 3_600_000;
const DEFAULT_RETRY_AFTER_MS = 1_000;

export async function postJson(req: PostRequest): Promise<PostResult> {
  let response: Response;
  try {
    response = await (req.fetch ?? fetch)(req.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...req.headers },
      body: req.body,
      // A redirect could carry the signed body (or a token) to another host: never followed.
      redirect: 'manual',
      signal: AbortSignal.any([req.signal, AbortSignal.timeout(req.timeoutMs)]),
    });
  } catch (err) {
    if (req.signal.aborted) throw err;
    return { ok: false, retry: 'backoff', error: networkError(err, req) };
  }
  const text = await response.text().catch(() => '');
  if (response.ok) return { ok: true, headers: response.headers };
  return failure(response, text, req);
}

function failure(response: Response, text: string, req: PostRequest): PostResult {
  const { status, headers } = response;
  const said = `${req.label} answered ${status}`;
  if (status === 429) {
    const retryAfterMs = retryAfter(headers, text, req.now);
    return { ok: false, retry: 'rate_limited', retryAfterMs, error: `${said} (rate limited)` };
  }
  if (status >= 300 && status < 400) {
    return { ok: false, retry: 'never', status, error: `${said} (redirects are not followed)` };
  }
  const detail = messageOf(text);
  const error = detail ? `${said}: ${detail}` : said;
  const retry = status === 408 || status >= 500 ? 'backoff' : 'never';
  return { ok: false, retry, status, error };
}

/** `retry_after` seconds in a JSON body (Discord), else the Retry-After header (seconds or a date). */
export function retryAfter(headers: Headers, text: string, now: number): number {
  const body = parseJson(text);
  const fromBody = typeof body?.retry_after === 'number' ? body.retry_after * 1000 : undefined;
  const header = headers.get('retry-after') ?? headers.get('x-ratelimit-reset-after');
  const ms = fromBody ?? (header === null ? undefined : headerMs(header, now));
  if (ms === undefined || !Number.isFinite(ms)) return DEFAULT_RETRY_AFTER_MS;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.ceil(ms)));
}

function headerMs(value: string, now: number): number | undefined {
  const seconds = Number(value.trim());
  if (value.trim() !== '' && Number.isFinite(seconds)) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at - now;
}

/**
 * After a success, the pause Discord asks for before the next message when this one used up the
 * bucket (`X-RateLimit-Remaining: 0`), so a long answer does not run into a 429.
 */
export function bucketPauseMs(headers: Headers): number {
  if (headers.get('x-ratelimit-remaining') !== '0') return 0;
  const seconds = Number(headers.get('x-ratelimit-reset-after'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(60_000, Math.ceil(seconds * 1000)) : 0;
}

/** The receiver's own short explanation (`{"message": ...}`), if it gave one. */
function messageOf(text: string): string | undefined {
  const message = parseJson(text)?.message;
  if (typeof message !== 'string' || message.trim() === '') return undefined;
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The error's code (ECONNREFUSED, ENOTFOUND, ...), never its message: fetch echoes header values. */
function networkError(err: unknown, req: PostRequest): string {
  const error = err as { name?: unknown; cause?: { code?: unknown } };
  if (error.name === 'TimeoutError') return `${req.label}: no answer within ${req.timeoutMs} ms`;
  const code = error.cause?.code;
  return typeof code === 'string'
    ? `${req.label}: network error (${code})`
    : `${req.label}: the request could not be made`;
}
