// One benchmark setup: a fresh temp workspace, real `outpost serve` processes (SQLite, or one or two
// replicas on a throwaway PostgreSQL schema; log level warn), scoped client and runner tokens made
// through the admin API, and real `outpost runner` processes.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchSchema, type BenchSchema } from './backend.ts';
import { BenchHttp, field } from './http.ts';
import { cleanEnv, spawnOutpost, workspacePaths, type Daemon } from './processes.ts';

export interface ClusterOptions {
  /** When set, every server and runner writes a CPU profile into `<profileDir>/<label>-<process>/`. */
  profileDir?: string;
  /** Entry script instead of bin/outpost.js (e.g. one running src/ through tsx, to compare). */
  bin?: string;
  /** Extra node flags for the server and runner processes. */
  nodeArgs?: readonly string[];
  /** Names the temp workspace and the profile folders. */
  label: string;
  /** PostgreSQL database to make a throwaway schema in; unset means SQLite in the workspace. */
  postgresUrl?: string;
  /** Servers on that schema (default 1; more than one needs `postgresUrl`). */
  replicas?: number;
}

export interface Cluster {
  /** Replica A: where runners and probe runners poll. */
  url: string;
  /** Where clients submit: replica B with two replicas, so every pickup crosses servers. */
  clientUrl: string;
  /** Replica A. */
  server: Daemon;
  /** Every replica, A first. */
  servers: Daemon[];
  /** A client-role token (what a bot would hold). */
  clientToken: string;
  /** Makes a runner-role token bound to `runner`. */
  runnerToken(runner: string): Promise<string>;
  /** Starts a real `outpost runner` process named `name` with `capacity` slots on `replica`. */
  startRunner(name: string, capacity: number, replica?: number): Promise<Daemon>;
  /** A tiny file inside the runner's root, for `file.read`. */
  tinyFile: string;
  /** Stops every process and removes the workspace. */
  close(): Promise<void>;
  /** Admin client of replica A. */
  admin: BenchHttp;
  /** The PostgreSQL schema, when the cluster runs on one (for the database's CPU time). */
  schema?: BenchSchema;
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const replicas = opts.replicas ?? 1;
  if (replicas > 1 && !opts.postgresUrl) throw new Error('replicas need a PostgreSQL database');
  const root = mkdtempSync(join(tmpdir(), `outpost-bench-${opts.label}-`));
  const paths = workspacePaths(root);
  for (const dir of [paths.serverData, paths.runnerData, paths.roots, paths.logs])
    mkdirSync(dir, { recursive: true });
  const tinyFile = join(paths.roots, 'tiny.txt');
  writeFileSync(tinyFile, 'hello outpost\n');
  const adminToken = `bench-admin-${randomBytes(16).toString('hex')}`;
  const profileDirFor = (name: string): string | undefined =>
    opts.profileDir ? join(opts.profileDir, `${opts.label}-${name}`) : undefined;

  const daemons: Daemon[] = [];
  const admins: BenchHttp[] = [];
  let schema: BenchSchema | undefined;
  const close = async (): Promise<void> => {
    for (const a of admins) a.close();
    // Runners first, so no server is left holding their polls; then the servers, then the schema.
    for (const d of [...daemons].reverse()) await d.stop();
    try {
      await schema?.drop();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };

  try {
    schema = opts.postgresUrl ? await createBenchSchema(opts.postgresUrl) : undefined;
    const servers: Daemon[] = [];
    for (let i = 0; i < replicas; i++) {
      const name = replicas > 1 ? `server-${String.fromCharCode(97 + i)}` : 'server';
      const dataDir = join(paths.serverData, name);
      const server = await spawnOutpost({
        args: ['serve', '--port', '0', ...(schema ? ['--database', schema.url] : [])],
        env: cleanEnv({
          OUTPOST_TOKEN: adminToken,
          OUTPOST_DATA_DIR: dataDir,
          OUTPOST_LOG_LEVEL: 'warn',
          // One client token submits thousands of tasks a second here, far past the default limit.
          OUTPOST_RATE_LIMIT_SUBMIT_MAX: '0',
        }),
        ready: /outpost server listening on (http:\/\/\S+)/,
        logPath: join(paths.logs, `${name}.log`),
        profileDir: profileDirFor(name),
        bin: opts.bin,
        nodeArgs: opts.nodeArgs,
      });
      servers.push(server);
      daemons.push(server);
      admins.push(new BenchHttp({ baseUrl: server.ready, token: adminToken, maxSockets: 4 }));
    }
    const [serverA, serverB] = [servers[0], servers[servers.length - 1]];
    const [admin] = admins;
    if (!serverA || !serverB || !admin) throw new Error('no server started');
    const makeToken = async (body: Record<string, string>): Promise<string> => {
      const secret = field(await admin.ok('POST', '/v1/tokens', body), 'secret');
      if (typeof secret !== 'string') throw new Error('token reply without a secret');
      return secret;
    };
    const clientToken = await makeToken({ name: 'bench-client', role: 'client' });
    let tokens = 0;
    const runnerToken = (runner: string): Promise<string> =>
      makeToken({ name: `bench-runner-${++tokens}`, role: 'runner', runner });

    const startRunner = async (name: string, capacity: number, replica = 0): Promise<Daemon> => {
      const server = servers[replica];
      const replicaAdmin = admins[replica];
      if (!server || !replicaAdmin) throw new Error(`no replica ${replica}`);
      const token = await runnerToken(name);
      const pollsBefore = await longPolls(replicaAdmin);
      const runner = await spawnOutpost({
        args: ['runner'],
        env: cleanEnv({
          OUTPOST_URL: server.ready,
          OUTPOST_TOKEN: token,
          OUTPOST_RUNNER_NAME: name,
          OUTPOST_CAPACITY: String(capacity),
          OUTPOST_ROOTS: paths.roots,
          OUTPOST_DATA_DIR: join(paths.runnerData, name),
          OUTPOST_LOG_LEVEL: 'warn',
        }),
        ready: /polling/,
        logPath: join(paths.logs, `runner-${name}.log`),
        profileDir: profileDirFor(`runner-${name}`),
        bin: opts.bin,
        nodeArgs: opts.nodeArgs,
      });
      daemons.push(runner);
      // The ready line comes after hello; give the first claim a moment to reach the server.
      await waitForLongPolls(replicaAdmin, pollsBefore + 1, 10_000);
      return runner;
    };
    return {
      url: serverA.ready,
      clientUrl: serverB.ready,
      server: serverA,
      servers,
      clientToken,
      runnerToken,
      startRunner,
      tinyFile,
      close,
      admin,
      schema,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Open long polls as the server reports them (GET /v1/stats → longPolls). */
export async function longPolls(admin: BenchHttp): Promise<number> {
  const polls = field(await admin.ok('GET', '/v1/stats'), 'longPolls');
  if (typeof polls !== 'number') throw new Error('stats reply without longPolls');
  return polls;
}

/** Resolves once the server reports at least `n` open long polls (GET /v1/stats → longPolls). */
export async function waitForLongPolls(
  admin: BenchHttp,
  n: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const polls = await longPolls(admin);
    if (polls >= n) return polls;
    if (Date.now() > deadline)
      throw new Error(`only ${String(polls)} long polls open after ${timeoutMs} ms, wanted ${n}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
