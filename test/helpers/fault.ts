// Shared by the fault tests (test/fault/): real `outpost serve` and `outpost runner` processes on
// loopback with SQLite in a temp dir, a tiny HTTP client that never throws on a status, polling,
// and reading the marker files tasks append their ids to.
import { readFileSync } from 'node:fs';
import { after, type TestContext } from 'node:test';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanEnv, startDaemon, type Daemon } from './processes.ts';

export const FAULT_TOKEN = 'fault-token-0123456789abcdef';

/**
 * Every daemon a fault test started. A test that timed out may skip its cleanup, or restart a
 * server after the cleanup ran; a live child's pipes would then keep the test process (and the
 * whole suite) waiting forever. So when the file's tests are done, whatever is left is killed.
 */
const daemons = new Set<Daemon>();
let finished = false;
const killLeftovers = (): void => {
  for (const daemon of daemons) daemon.child.kill('SIGKILL');
};
after(() => {
  finished = true;
  killLeftovers();
});
process.on('exit', killLeftovers);

function track<D extends Daemon>(daemon: D): D {
  if (finished) {
    daemon.child.kill('SIGKILL');
    throw new Error("started a daemon after the file's tests ended");
  }
  daemons.add(daemon);
  daemon.child.once('exit', () => daemons.delete(daemon));
  return daemon;
}

export interface ServeOptions {
  /** Holds the database (`outpost.db`) unless `OUTPOST_DB` is set in `env`. */
  dataDir: string;
  /** 0 picks a free port; a restart passes the port the first start got. */
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** Spawn options for the child, e.g. an unprivileged uid. */
  uid?: number;
  gid?: number;
}

export interface ServerProcess extends Daemon {
  url: string;
  port: number;
}

/** Starts `outpost serve` and resolves once it listens. */
export async function startServe(opts: ServeOptions): Promise<ServerProcess> {
  const env = cleanEnv({
    OUTPOST_TOKEN: FAULT_TOKEN,
    OUTPOST_DATA_DIR: opts.dataDir,
    OUTPOST_LOG_LEVEL: 'warn',
    ...opts.env,
  });
  const args = ['serve', '--port', String(opts.port ?? 0)];
  const as = opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid ?? opts.uid };
  const daemon = await startDaemon(args, env, /listening on (http:\/\/\S+)/, 60_000, as);
  const url = daemon.match[1]!;
  return track({ ...daemon, url, port: Number(new URL(url).port) });
}

export interface RunnerOptions {
  url: string;
  name: string;
  /** Runner data dir and the root tasks run in. */
  dir: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts `outpost runner` and resolves once its hello was answered and it polls. */
export async function startRunnerProcess(opts: RunnerOptions): Promise<Daemon> {
  const env = cleanEnv({
    OUTPOST_URL: opts.url,
    OUTPOST_TOKEN: FAULT_TOKEN,
    OUTPOST_RUNNER_NAME: opts.name,
    OUTPOST_DATA_DIR: join(opts.dir, `.runner-${opts.name}`),
    OUTPOST_ROOTS: opts.dir,
    // Short backoff so a test sees the reconnect within seconds, not the 30 s default ceiling.
    OUTPOST_RETRY_BASE_MS: '100',
    OUTPOST_RETRY_MAX_MS: '1000',
    ...opts.env,
  });
  return track(await startDaemon(['runner'], env, /polling/, 60_000));
}

export interface Reply<T = unknown> {
  status: number;
  body: T;
}

/** One JSON request with the admin token; network failures reject, HTTP statuses never do. */
export async function api<T = unknown>(
  url: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  opts: { timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${FAULT_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the caller sees the text
  }
  return { status: res.status, body: parsed as T };
}

/** The fields of a task the fault tests look at. */
export interface TaskView {
  id: string;
  state: string;
  attempt: number;
  maxAttempts: number;
  updatedAt: number;
  outcome?: { status: string; stdout?: string; error?: { kind: string; message: string } };
}

export const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);

/** Every task on the server, following list cursors. */
export async function listAllTasks(url: string): Promise<TaskView[]> {
  const all: TaskView[] = [];
  let cursor: string | undefined;
  do {
    const query = `?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await api<{ tasks: TaskView[]; nextCursor?: string }>(
      url,
      'GET',
      `/v1/tasks${query}`,
    );
    if (res.status !== 200)
      throw new Error(`list failed: ${res.status} ${JSON.stringify(res.body)}`);
    all.push(...res.body.tasks);
    cursor = res.body.nextCursor;
  } while (cursor);
  return all;
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined; fails after `withinMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  withinMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Lines per value in a marker file tasks append to (missing file: no lines). */
export function countLines(path: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return counts;
  }
  for (const line of text.split('\n')) {
    if (line.trim() !== '') counts.set(line.trim(), (counts.get(line.trim()) ?? 0) + 1);
  }
  return counts;
}

/** True while `pid` is a live (non-zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Adds the numbers a fault test measured to its output, as one `# fault <name>: k=v …` line. */
export function report(
  t: { diagnostic(message: string): void },
  name: string,
  fields: Record<string, unknown>,
): void {
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${String(v)}`);
  t.diagnostic(`fault ${name}: ${parts.join(' ')}`);
}

/**
 * Cleanups run after the test in reverse order, each even if an earlier one failed.
 * @example const defer = deferCleanups(t); const server = await startServe(o); defer(() => server.stop());
 */
export function deferCleanups(t: TestContext): (cleanup: () => unknown) => void {
  const cleanups: (() => unknown)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        t.diagnostic(`cleanup failed: ${String(err)}`);
      }
    }
  });
  return (cleanup) => void cleanups.push(cleanup);
}
