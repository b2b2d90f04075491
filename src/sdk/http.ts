// One JSON request over fetch: auth header, timeout, and every failure (network, timeout, HTML
// page, malformed or unexpected body) turned into an AppError. Browser-safe: no node: imports.
import type { Static, TSchema } from 'typebox';
import { AppError, codeForStatus, ErrorBody, toErrorCode } from '../protocol/errors.ts';
import { parseWith } from '../protocol/validate.ts';

/** One request as the SDK sends it: a JSON body (already a string) or none. */
export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** Always set for a plain fetch; for a transport that `takesTimeout`, only the caller's own. */
  signal?: AbortSignal;
  /** Only for a transport that `takesTimeout`: the limit for the whole exchange, body included. */
  timeoutMs?: number;
}

/**
 * The part of fetch the SDK uses. The global fetch fits; so does the runner's cheaper transport
 * (runner/node-transport.ts), because fetch costs it about a millisecond of CPU per request.
 * A transport with `takesTimeout` enforces `init.timeoutMs` itself, rejecting with an error named
 * `TimeoutError`; the SDK then makes no AbortController and timer of its own for each request.
 */
export type FetchLike = ((
  url: string,
  init: FetchInit,
) => Promise<{ status: number; text(): Promise<string> }>) & { takesTimeout?: boolean };

/** True for the error a `takesTimeout` transport rejects with when `init.timeoutMs` passes. */
export function isTimeoutError(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

/** Settings shared by every request of one client. */
export interface HttpOptions {
  baseUrl: string;
  token: string;
  fetch: FetchLike;
  requestTimeoutMs: number;
}

/** One call: `query` values that are undefined are left out; `body` is sent as JSON. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Overrides the client's timeout (long polls need longer than their wait). */
  timeoutMs?: number;
}

const isErrorBody = (value: unknown): value is ErrorBody => {
  try {
    parseWith(ErrorBody, value, 'error');
    return true;
  } catch {
    return false;
  }
};

/**
 * Sends `req` and returns its reply validated against `schema`; throws AppError on any failure.
 * If the caller's `signal` aborts, its reason is thrown unchanged so callers can tell a chosen
 * abort from a failure.
 * @example const task = await requestJson(http, Task, { method: 'GET', path: `/v1/tasks/${id}` });
 */
export async function requestJson<S extends TSchema>(
  http: HttpOptions,
  schema: S,
  req: HttpRequest,
): Promise<Static<S>> {
  const url = buildUrl(http.baseUrl, req.path, req.query);
  const timeoutMs = req.timeoutMs ?? http.requestTimeoutMs;
  const response = await fetchText(http, url, req, timeoutMs);
  const json = parseJson(response.text);
  if (response.status < 200 || response.status > 299) {
    throw errorFromResponse(response.status, json, req);
  }
  if (json === undefined) {
    throw new AppError('unavailable', `${describe(req)}: the server sent a reply that is not JSON`);
  }
  return parseWith(schema, json, `${describe(req)}: reply`, 'unavailable');
}

function buildUrl(baseUrl: string, path: string, query: HttpRequest['query']): string {
  const base = baseUrl.endsWith('/') ? baseUrl.replace(/\/+$/, '') : baseUrl;
  // Most requests (claims, heartbeats, finishes) have no query: no URLSearchParams for them.
  if (query === undefined) return base + path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const search = params.toString();
  return `${base}${path}${search ? `?${search}` : ''}`;
}

interface RawResponse {
  status: number;
  text: string;
}

/** Fetches and reads the whole body under one timer, so a server that stalls mid-body times out too. */
function fetchText(
  http: HttpOptions,
  url: string,
  req: HttpRequest,
  timeoutMs: number,
): Promise<RawResponse> {
  return http.fetch.takesTimeout === true
    ? fetchTimed(http, url, req, timeoutMs)
    : fetchAborting(http, url, req, timeoutMs);
}

/** The transport keeps the time; the caller's signal, if any, goes to it as is. */
async function fetchTimed(
  http: HttpOptions,
  url: string,
  req: HttpRequest,
  timeoutMs: number,
): Promise<RawResponse> {
  try {
    if (req.signal?.aborted) throw req.signal.reason;
    const response = await http.fetch(url, init(http, req, req.signal, timeoutMs));
    return { status: response.status, text: await response.text() };
  } catch (err) {
    throw failure(http, req, err, isTimeoutError(err), timeoutMs);
  }
}

/** A plain fetch: one AbortController ends the request on a timeout or the caller's abort. */
async function fetchAborting(
  http: HttpOptions,
  url: string,
  req: HttpRequest,
  timeoutMs: number,
): Promise<RawResponse> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = (): void => controller.abort(req.signal?.reason);
  req.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (req.signal?.aborted) throw req.signal.reason;
    const response = await http.fetch(url, init(http, req, controller.signal));
    return { status: response.status, text: await response.text() };
  } catch (err) {
    throw failure(http, req, err, timedOut, timeoutMs);
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', onAbort);
  }
}

/** What a failed request throws: the caller's abort reason unchanged, else an AppError. */
function failure(
  http: HttpOptions,
  req: HttpRequest,
  err: unknown,
  timedOut: boolean,
  timeoutMs: number,
): unknown {
  if (req.signal?.aborted) return req.signal.reason;
  if (timedOut)
    return new AppError('unavailable', `${describe(req)}: no reply within ${timeoutMs} ms`);
  return new AppError(
    'unavailable',
    `${describe(req)}: cannot reach ${http.baseUrl} (${messageOf(err)})`,
  );
}

function init(
  http: HttpOptions,
  req: HttpRequest,
  signal: AbortSignal | undefined,
  timeoutMs?: number,
): FetchInit {
  const headers: Record<string, string> = {
    accept: 'application/json',
    authorization: `Bearer ${http.token}`,
    ...req.headers,
  };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  const body = req.body === undefined ? undefined : JSON.stringify(req.body);
  return { method: req.method, headers, body, signal, timeoutMs };
}

function parseJson(text: string): unknown {
  if (!/\S/.test(text)) return undefined; // empty or blank, without copying a large reply
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * A 5xx is `unavailable` whatever its body says (the caller can only retry); a 4xx carries the
 * server's own code, or one derived from the status when a proxy answered with a page of its own.
 */
function errorFromResponse(status: number, json: unknown, req: HttpRequest): AppError {
  const sent = isErrorBody(json) ? json.error : undefined;
  const details = { status, ...(sent ? { code: sent.code, details: sent.details } : {}) };
  const message = sent?.message ?? `${describe(req)}: HTTP ${status} without an error body`;
  if (status >= 500) return new AppError('unavailable', message, details);
  const code = sent ? toErrorCode(sent.code) : (codeForStatus(status) ?? 'bad_request');
  return new AppError(code, message, sent?.details);
}

function describe(req: HttpRequest): string {
  return `${req.method} ${req.path}`;
}

function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}
