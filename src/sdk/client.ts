// The typed Outpost client: one method per v1 operation, each reply validated against its schema.
// Used by the runner, CLI, MCP server and browser dashboard, so it speaks fetch only.
import type { Static, TSchema } from 'typebox';
import { AppError } from '../protocol/errors.ts';
import {
  CreatedEnrollment,
  CreatedToken,
  type CreateEnrollmentBody,
  type CreateTokenBody,
} from '../protocol/auth.ts';
import { AppendOutputReply, type AppendOutputBody } from '../protocol/output.ts';
import {
  ClaimReply,
  FinishBatchReply,
  FinishReply,
  HeartbeatReply,
  HelloReply,
  type ClaimBody,
  type FinishBody,
  type HeartbeatBody,
  type HelloBody,
} from '../protocol/runner.ts';
import {
  isTerminal,
  Task,
  TaskList,
  type CreateTaskBody,
  type Kind,
  type TaskState,
} from '../protocol/tasks.ts';
import { backoffMs } from '../lib/backoff.ts';
import { delay } from './delay.ts';
import { requestJson, type FetchLike, type HttpOptions, type HttpRequest } from './http.ts';
import { Health, RevokedToken, RunnerList, Stats, TokenList } from './replies.ts';
import { LogPage } from '../protocol/output.ts';
import { ScheduleMethods } from './schedules.ts';
import { createTaskSigner, type SigningKey } from './signing.ts';

/** How to reach a server. */
export interface ClientOptions {
  /** e.g. `https://outpost.example.com` (a trailing slash is fine). */
  baseUrl: string;
  /** A bearer token; its role decides which methods succeed. */
  token: string;
  /** Injected for tests or special transports; defaults to the global fetch. */
  fetch?: FetchLike;
  /** Limit for ordinary requests; long polls get their wait plus LONG_POLL_SLACK_MS. Default 30 s. */
  requestTimeoutMs?: number;
  /** Signs every createTask, for runners in require-signed mode (sdk/signing.ts). */
  signingKey?: SigningKey;
}

export interface CreateTaskOptions {
  /** A repeat with the same key returns the original task instead of creating another. */
  idempotencyKey?: string;
  /** Also wait up to this long (≤ 60 s) for the task to end before replying. */
  waitMs?: number;
  signal?: AbortSignal;
}

export interface GetTaskOptions {
  /** Hold the request up to this long (≤ 60 s) until the task is terminal. */
  waitMs?: number;
  signal?: AbortSignal;
}

export interface ReadLogsOptions {
  /** Server seq already read; 0 (the default) reads from the start. */
  after?: number;
  /** Hold the request up to this long (≤ 60 s) for new chunks or the task's end. */
  waitMs?: number;
  limit?: number;
  signal?: AbortSignal;
}

export interface WaitForTaskOptions {
  signal?: AbortSignal;
  /** Wait per request; default (and maximum) 60 s. */
  pollMs?: number;
}

export interface ListTasksFilter {
  state?: TaskState;
  kind?: Kind;
  runner?: string;
  sessionKey?: string;
  /** `nextCursor` from the previous page. */
  cursor?: string;
  limit?: number;
}

/** The server holds a long poll at most this long (LIMITS.waitMs). */
const MAX_WAIT_MS = 60_000;
/** Extra time over a long poll's wait before the client gives up, for transit and a busy server. */
export const LONG_POLL_SLACK_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 30_000;
/** waitForTask rides out this many failed polls in a row (about a minute of backoff) before giving up. */
const WAIT_RETRIES = 6;

/**
 * A typed client for the Outpost v1 API. Every method resolves to the route's reply body,
 * validated, or rejects with an AppError (`unavailable` for network trouble, 5xx and malformed
 * replies; otherwise the server's code). An aborted `signal` rejects with the signal's reason.
 * The agent session methods (`listSessions`, `resumeSession`, …) come from SessionMethods, the
 * schedule methods (`createSchedule`, `listSchedules`, …) from ScheduleMethods,
 * and the approval methods (`approveTask`, `rejectTask`, `holdTask`, `resumeTask`) from ApprovalMethods.
 * @example
 * const client = new OutpostClient({ baseUrl: 'http://127.0.0.1:3456', token });
 * const task = await client.createTask({ kind: 'shell', spec: { command: 'uptime' } });
 * const done = await client.waitForTask(task.id);
 */
export class OutpostClient extends ScheduleMethods {
  private readonly http: HttpOptions;
  private readonly sign?: (body: CreateTaskBody) => Promise<CreateTaskBody>;
  protected readonly decisionKey: SigningKey | undefined;

  constructor(options: ClientOptions) {
    super();
    this.decisionKey = options.signingKey;
    if (options.signingKey) this.sign = createTaskSigner(options.signingKey);
    const fetchImpl: FetchLike = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
    this.http = {
      baseUrl: options.baseUrl,
      token: options.token,
      fetch: fetchImpl,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    };
  }

  /**
   * Creates a task (`POST /v1/tasks`); with `waitMs`, the reply comes when it ends or the wait does.
   * @example await client.createTask({ kind: 'shell', spec: { command: 'ls' } }, { idempotencyKey: 'msg-42' });
   * @example // on a GPU runner, one deploy at a time, highest priority, in ten minutes
   * await client.createTask({ kind: 'shell', spec: { command: './deploy.sh' },
   *   target: { labels: ['gpu'] }, concurrency: { key: 'deploy', limit: 1 },
   *   priority: 100, runAt: Date.now() + 600_000 });
   */
  async createTask(body: CreateTaskBody, opts: CreateTaskOptions = {}): Promise<Task> {
    const headers = opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined;
    return this.send(Task, {
      method: 'POST',
      path: '/v1/tasks',
      query: { wait: opts.waitMs },
      body: this.sign ? await this.sign(body) : body,
      headers,
      signal: opts.signal,
      timeoutMs: this.longPollTimeout(opts.waitMs),
    });
  }

  /**
   * Reads a task (`GET /v1/tasks/:id`); with `waitMs`, holds until it is terminal or the wait ends.
   * @example const task = await client.getTask(id, { waitMs: 30_000 });
   */
  getTask(id: string, opts: GetTaskOptions = {}): Promise<Task> {
    return this.send(Task, {
      method: 'GET',
      path: `/v1/tasks/${encodeURIComponent(id)}`,
      query: { wait: opts.waitMs },
      signal: opts.signal,
      timeoutMs: this.longPollTimeout(opts.waitMs),
    });
  }

  /**
   * Reads output chunks after server seq `after` (`GET /v1/tasks/:id/logs`); with `waitMs`, holds
   * until there are more or the task ends. Pass the reply's `lastSeq` back as `after` to follow.
   * @example const page = await client.readLogs(id, { after: 0, waitMs: 30_000 });
   */
  readLogs(id: string, opts: ReadLogsOptions = {}): Promise<LogPage> {
    return this.send(LogPage, {
      method: 'GET',
      path: `/v1/tasks/${encodeURIComponent(id)}/logs`,
      query: { after: opts.after, wait: opts.waitMs, limit: opts.limit },
      signal: opts.signal,
      timeoutMs: this.longPollTimeout(opts.waitMs),
    });
  }

  /**
   * Resolves with the task once it is terminal, repeating long GETs; a few failed polls in a row
   * (server restarting) are retried with backoff before the error is thrown.
   * @example const { outcome } = await client.waitForTask(task.id);
   */
  async waitForTask(id: string, opts: WaitForTaskOptions = {}): Promise<Task> {
    const waitMs = Math.min(opts.pollMs ?? MAX_WAIT_MS, MAX_WAIT_MS);
    let failures = 0;
    for (;;) {
      try {
        const task = await this.getTask(id, { waitMs, signal: opts.signal });
        if (isTerminal(task.state)) return task;
        failures = 0;
      } catch (err) {
        failures += 1;
        if (!isTransient(err) || failures > WAIT_RETRIES || opts.signal?.aborted) throw err;
        await delay(backoffMs(failures, { baseMs: 500, maxMs: 15_000 }), opts.signal);
      }
    }
  }

  /**
   * Lists tasks newest first (`GET /v1/tasks`); pass `nextCursor` back as `cursor` for the next page.
   * @example const { tasks, nextCursor } = await client.listTasks({ state: 'failed', limit: 20 });
   */
  listTasks(filter: ListTasksFilter = {}): Promise<TaskList> {
    return this.send(TaskList, { method: 'GET', path: '/v1/tasks', query: { ...filter } });
  }

  /**
   * Cancels a task: a queued one at once, a running one through its runner's next heartbeat.
   * @example const task = await client.cancelTask(id); // task.cancelRequested === true
   */
  cancelTask(id: string): Promise<Task> {
    return this.send(Task, { method: 'POST', path: `/v1/tasks/${encodeURIComponent(id)}/cancel` });
  }

  /**
   * Registers a runner (`POST /v1/runner/hello`) and returns the lease and heartbeat settings.
   * @example const { leaseMs, heartbeatMs } = await client.hello({ name: 'box', instanceId, capacity: 2, kinds: ['shell'], version: '0.1.0' });
   */
  hello(body: HelloBody, opts: { signal?: AbortSignal } = {}): Promise<HelloReply> {
    const req = { method: 'POST', path: '/v1/runner/hello', body, signal: opts.signal } as const;
    return this.send(HelloReply, req);
  }

  /**
   * Long-polls for up to `body.max` tasks (`POST /v1/runner/claim`); an empty list when the wait ends.
   * @example const { tasks } = await client.claimTasks({ runner: 'box', max: 2, waitMs: 30_000 }, { signal });
   */
  claimTasks(body: ClaimBody, opts: { signal?: AbortSignal } = {}): Promise<ClaimReply> {
    return this.send(ClaimReply, {
      method: 'POST',
      path: '/v1/runner/claim',
      body,
      signal: opts.signal,
      timeoutMs: this.longPollTimeout(body.waitMs),
    });
  }

  /**
   * Extends every listed lease in one call; the reply names leases `lost` and tasks to `cancel`.
   * @example const { lost, cancel } = await client.heartbeat({ runner: 'box', leases: [{ taskId, leaseToken }] });
   */
  heartbeat(body: HeartbeatBody, opts: { timeoutMs?: number } = {}): Promise<HeartbeatReply> {
    const req = { method: 'POST', path: '/v1/runner/heartbeat', body } as const;
    return this.send(HeartbeatReply, { ...req, timeoutMs: opts.timeoutMs });
  }

  /**
   * Reports an attempt's outcome; rejects with `lease_lost` when the lease is no longer held.
   * @example await client.finishAttempt({ taskId, leaseToken, outcome: { status: 'succeeded' } });
   */
  finishAttempt(body: FinishBody): Promise<FinishReply> {
    return this.send(FinishReply, { method: 'POST', path: '/v1/runner/finish', body });
  }

  /**
   * Reports several outcomes in one request, committed together; each is answered on its own
   * (`state`, or an `error` such as `lease_lost`), in order. Servers before batching answer 400.
   * @example const { results } = await client.finishAttempts([{ taskId, leaseToken, outcome }]);
   */
  finishAttempts(results: FinishBody[]): Promise<FinishBatchReply> {
    const body = { results };
    return this.send(FinishBatchReply, { method: 'POST', path: '/v1/runner/finish', body });
  }

  /**
   * Appends chunks of a running attempt's live output (`POST /v1/runner/logs`), fenced by the lease
   * token; a chunk whose seq is already stored is skipped, so a resend after a lost reply is safe.
   * Rejects with `lease_lost` once the lease is gone.
   * @example const { storedThrough } = await client.appendOutput({ taskId, leaseToken, chunks: [{ seq: 1, stream: 'stdout', data: 'hi\n' }] });
   */
  appendOutput(
    body: AppendOutputBody,
    opts: { signal?: AbortSignal } = {},
  ): Promise<AppendOutputReply> {
    const req = { method: 'POST', path: '/v1/runner/logs', body, signal: opts.signal } as const;
    return this.send(AppendOutputReply, req);
  }

  /**
   * Creates a token (admin); the reply's `secret` is shown only this once.
   * @example const { secret } = await client.createToken({ name: 'laptop', role: 'runner', runner: 'laptop' });
   */
  createToken(body: CreateTokenBody): Promise<CreatedToken> {
    return this.send(CreatedToken, { method: 'POST', path: '/v1/tokens', body });
  }

  /**
   * Lists tokens (admin), without their secrets.
   * @example const { tokens } = await client.listTokens();
   */
  listTokens(): Promise<TokenList> {
    return this.send(TokenList, { method: 'GET', path: '/v1/tokens' });
  }

  /**
   * Revokes a token by id or name (admin); `not_found` when there is none.
   * @example await client.revokeToken('laptop');
   */
  revokeToken(idOrName: string): Promise<RevokedToken> {
    const path = `/v1/tokens/${encodeURIComponent(idOrName)}`;
    return this.send(RevokedToken, { method: 'DELETE', path });
  }

  /**
   * Gives a token a new secret (admin); the old secret stops working at once.
   * @example const { secret } = await client.rotateToken('laptop');
   */
  rotateToken(idOrName: string): Promise<CreatedToken> {
    const path = `/v1/tokens/${encodeURIComponent(idOrName)}/rotate`;
    return this.send(CreatedToken, { method: 'POST', path });
  }

  /**
   * A one-time enrolment code for a runner name (admin); the code is shown only this once.
   * @example const { code } = await client.createEnrollment({ runner: 'laptop' });
   */
  createEnrollment(body: CreateEnrollmentBody): Promise<CreatedEnrollment> {
    return this.send(CreatedEnrollment, { method: 'POST', path: '/v1/enrollments', body });
  }

  /**
   * Exchanges an enrolment code for a runner token (no token needed); the secret is shown once.
   * @example const { secret, token } = await new OutpostClient({ baseUrl, token: '' }).enroll(code);
   */
  enroll(code: string): Promise<CreatedToken> {
    return this.send(CreatedToken, { method: 'POST', path: '/v1/enroll', body: { code } });
  }

  /**
   * Lists runners that ever said hello: labels, kinds, capacity, tasks running now, version,
   * policy digest, last seen and whether each is online (admin).
   * @example const { runners } = await client.listRunners();
   */
  listRunners(): Promise<RunnerList> {
    return this.send(RunnerList, { method: 'GET', path: '/v1/runners' });
  }

  /**
   * Counts tasks per state, runners and open long polls (admin).
   * @example const { tasks } = await client.getStats(); // tasks.queued
   */
  getStats(): Promise<Stats> {
    return this.send(Stats, { method: 'GET', path: '/v1/stats' });
  }

  /**
   * Liveness (`GET /health`, no auth needed).
   * @example await client.health(); // { status: 'ok' }
   */
  health(): Promise<Health> {
    return this.send(Health, { method: 'GET', path: '/health' });
  }

  protected override send<S extends TSchema>(schema: S, req: HttpRequest): Promise<Static<S>> {
    return requestJson(this.http, schema, req);
  }

  private longPollTimeout(waitMs: number | undefined): number {
    return Math.max(this.http.requestTimeoutMs, (waitMs ?? 0) + LONG_POLL_SLACK_MS);
  }
}

/**
 * True for failures worth retrying later: the server or network was unavailable, or asked us to
 * slow down. Anything else (a refused token, a bad request, a lost lease) will fail again.
 * @example if (isTransient(err)) await delay(backoffMs(n, opts));
 */
export function isTransient(err: unknown): boolean {
  return (
    err instanceof AppError &&
    (err.code === 'unavailable' || err.code === 'rate_limited' || err.code === 'internal')
  );
}
