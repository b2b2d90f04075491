// Which stores the bench runs on: SQLite (a file in the temp workspace) and PostgreSQL (a throwaway
// schema `bench_<random>` of the database named by OUTPOST_BENCH_DATABASE_URL or TEST_DATABASE_URL,
// dropped afterwards), with one server or with two replicas on that schema.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { cpuMs } from './processes.ts';

export type BackendName = 'sqlite' | 'postgres';
const BACKENDS: readonly BackendName[] = ['sqlite', 'postgres'];

/** One store setup the latency and throughput scenarios run on. */
export interface Setup {
  backend: BackendName;
  /** Servers on one database: 1, or 2 (PostgreSQL only). */
  replicas: number;
}

export const setupName = (s: Setup): string =>
  s.backend === 'sqlite' ? 'SQLite' : `PostgreSQL ×${s.replicas}`;

export interface BackendChoice {
  backends: BackendName[];
  /** The PostgreSQL database to make schemas in, when PostgreSQL is among `backends`. */
  url?: string;
  /** Why PostgreSQL is left out, when it is. */
  reason?: string;
}

/**
 * `--backend sqlite,postgres`; unset means both when a database URL is set, else SQLite alone
 * (with the reason). Asking for postgres without a URL is an error, not a silent skip.
 */
export function chooseBackends(flag: string | undefined, env: NodeJS.ProcessEnv): BackendChoice {
  const url = env.OUTPOST_BENCH_DATABASE_URL || env.TEST_DATABASE_URL || undefined;
  const noUrl = 'neither OUTPOST_BENCH_DATABASE_URL nor TEST_DATABASE_URL is set';
  if (flag === undefined) {
    return url ? { backends: [...BACKENDS], url } : { backends: ['sqlite'], reason: noUrl };
  }
  const backends = flag.split(',').map((s) => s.trim());
  for (const b of backends) {
    if (!(BACKENDS as readonly string[]).includes(b)) {
      throw new Error(`--backend: unknown backend '${b}'; one of ${BACKENDS.join(', ')}`);
    }
  }
  const chosen = BACKENDS.filter((b) => backends.includes(b));
  if (chosen.includes('postgres') && !url) throw new Error(`--backend postgres: ${noUrl}`);
  return { backends: chosen, url: chosen.includes('postgres') ? url : undefined };
}

/** The setups to run, in report order: SQLite, then PostgreSQL with 1 and with 2 replicas. */
export function setupsFor(choice: BackendChoice): Setup[] {
  return choice.backends.flatMap((backend): Setup[] =>
    backend === 'sqlite'
      ? [{ backend, replicas: 1 }]
      : [1, 2].map((replicas) => ({ backend, replicas })),
  );
}

/** The URL without its password, for the log. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

export interface BenchSchema {
  schema: string;
  /** The database URL whose connections use `schema` and carry application_name = `schema`. */
  url: string;
  /**
   * CPU ms used so far by the PostgreSQL backend processes serving this schema's connections
   * (found by application_name in pg_stat_activity; /proc of the database's host, so only
   * meaningful when PostgreSQL runs on this machine). Backends that exited are not counted.
   */
  cpuMs(): Promise<number>;
  drop(): Promise<void>;
}

/** Creates `bench_<random>` and returns a URL scoped to it (search_path, application_name). */
export async function createBenchSchema(url: string): Promise<BenchSchema> {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
  } catch (err) {
    await admin.end();
    throw err;
  }
  const scoped = new URL(url);
  // Keep any options the operator put on the URL (e.g. -csynchronous_commit=off) and add ours.
  const options = scoped.searchParams.get('options');
  scoped.searchParams.set('options', `${options ? `${options} ` : ''}-csearch_path=${schema}`);
  scoped.searchParams.set('application_name', schema);
  const seen = new Map<number, number>();
  const cpu = async (): Promise<number> => {
    const { rows } = await admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [schema],
    );
    for (const { pid } of rows) {
      try {
        seen.set(pid, cpuMs(pid));
      } catch {
        // the backend ended between the query and the read: keep its last reading
      }
    }
    return [...seen.values()].reduce((a, b) => a + b, 0);
  };
  const drop = async (): Promise<void> => {
    try {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await admin.end();
    }
  };
  return { schema, url: scoped.href, cpuMs: cpu, drop };
}
