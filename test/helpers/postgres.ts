// Throwaway PostgreSQL schemas for tests: each gets its own, named in a URL that sets search_path
// (as an operator may); the caller drops it when done.
import pg from 'pg';

/** The database tests may use, or undefined (the test is then skipped with a printed reason). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const NO_DATABASE = 'TEST_DATABASE_URL not set; set it to a throwaway PostgreSQL database';

let made = 0;

export interface TestSchema {
  schema: string;
  /** The database URL with `options=-csearch_path=<schema>`. */
  url: string;
  drop(): Promise<void>;
}

/** Creates a fresh schema and returns a URL whose connections use it. */
export async function createTestSchema(url: string): Promise<TestSchema> {
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${++made}`;
  await withClient(url, (c) => c.query(`CREATE SCHEMA "${schema}"`));
  const scoped = new URL(url);
  scoped.searchParams.set('options', `-csearch_path=${schema}`);
  const drop = async () => {
    await withClient(url, (c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  };
  return { schema, url: scoped.href, drop };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
