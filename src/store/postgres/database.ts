// The PostgreSQL connection pool as the query files see it: plain reads on the pool, and
// transactions on one client, retried on serialization failures and deadlocks, whose events are
// written last, just before COMMIT (see event-log.ts for why).
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { codeOf } from './postgres-errors.ts';
import type { TaskChange } from '../types.ts';

/** int8 (COUNT, bigint ms times, event ids) as a JS number: every value we store is below 2^53. */
const INT8_OID = 20;
const parseInt8 = (value: string): number => Number(value);
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? parseInt8
      : (pg.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser,
};

/** SQLSTATEs worth running the whole transaction again for. */
const RETRYABLE = new Set(['40001', '40P01']);

/** A serialization failure or deadlock: the transaction runs again rather than one part failing. */
export const isRetryable = (err: unknown): boolean => RETRYABLE.has(codeOf(err));
const MAX_TRIES = 5;
/** A 64-bit advisory lock key from the schema name and $1 (a lock's name). */
const LOCK_KEY = "hashtextextended(coalesce(current_schema(), '') || $1, 0)";

/** An event queued by a query inside a transaction; written by writePendingEvents at commit. */
export interface PendingEvent {
  type: string;
  at: number;
  taskId: string | null;
  taskKind: string | null;
  taskState: string | null;
  runner: string | null;
  data: string | null;
}

/** What both the pool and a transaction's client answer: rows, one row, or a row count. */
export interface Queryable {
  rows<R>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  row<R>(sql: string, params?: readonly unknown[]): Promise<R | undefined>;
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

abstract class QueryRunner implements Queryable {
  protected abstract query(sql: string, params: readonly unknown[]): Promise<pg.QueryResult>;

  async rows<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.query(sql, params)).rows as R[];
  }

  async row<R>(sql: string, params: readonly unknown[] = []): Promise<R | undefined> {
    return (await this.rows<R>(sql, params))[0];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }
}

/** One transaction: its client, and the events and task changes its queries logged, not yet sent. */
export class Tx extends QueryRunner {
  readonly pendingEvents: PendingEvent[] = [];
  /** Told to other servers at commit (notifications.ts). */
  readonly changes: TaskChange[] = [];

  constructor(private readonly client: pg.PoolClient) {
    super();
  }

  protected query(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    return this.client.query(sql, params as unknown[]);
  }

  /**
   * A transaction-scoped advisory lock on `name` within this schema, so stores on other schemas
   * of one database (tests, tenants) never wait for each other. Released at COMMIT or ROLLBACK.
   */
  async lock(name: string): Promise<void> {
    await this.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`, [`:${name}`]);
  }

  /**
   * Runs `fn` inside a SAVEPOINT. If it throws, its writes and the events and changes it logged
   * are undone, the error is rethrown, and the transaction can go on (for a batch's items).
   */
  async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const events = this.pendingEvents.length;
    const changes = this.changes.length;
    await this.query('SAVEPOINT item', []);
    try {
      const result = await fn();
      await this.query('RELEASE SAVEPOINT item', []);
      return result;
    } catch (err) {
      await this.query('ROLLBACK TO SAVEPOINT item', []);
      this.pendingEvents.length = events;
      this.changes.length = changes;
      throw err;
    }
  }

  /** As lock, but gives up at once: false when another transaction holds it. */
  async tryLock(name: string): Promise<boolean> {
    const row = await this.row<{ ok: boolean }>(
      `SELECT pg_try_advisory_xact_lock(${LOCK_KEY}) AS ok`,
      [`:${name}`],
    );
    return row?.ok === true;
  }
}

export interface PoolOptions {
  /** Schema to use (created by migrate when missing); default: the URL's search_path. */
  schema?: string;
  /** Most connections this store opens; default 10. */
  max?: number;
}

/** The pool behind one store: reads on any idle client, transactions on a client of their own. */
export class Database extends QueryRunner {
  readonly pool: pg.Pool;

  constructor(
    private readonly url: string,
    readonly options: PoolOptions,
    private readonly flush: (tx: Tx) => Promise<void>,
  ) {
    super();
    this.pool = new pg.Pool({ ...this.clientConfig(), max: options.max ?? 10 });
    // An idle client whose connection drops emits here; the pool replaces it on the next query.
    this.pool.on('error', () => {});
  }

  protected query(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    return this.pool.query(sql, params as unknown[]);
  }

  /** A connection of its own, outside the pool, configured as the pool's (LISTEN needs one). */
  newClient(): pg.Client {
    return new pg.Client(this.clientConfig());
  }

  private clientConfig(): pg.ClientConfig {
    const schema = this.options.schema;
    return {
      connectionString: this.url,
      types: TYPES,
      ...(schema === undefined ? {} : { options: `-c search_path=${quoteIdent(schema)}` }),
    };
  }

  /**
   * Runs `fn` in one READ COMMITTED transaction on a client of its own, then writes the events it
   * logged and commits. A serialization failure or deadlock runs it again (up to 5 tries), so
   * `fn` must not have effects outside the database.
   */
  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(fn);
      } catch (err) {
        if (!isRetryable(err) || attempt >= MAX_TRIES) throw err;
        await sleep(Math.random() * 10 * attempt);
      }
    }
  }

  private async once<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const tx = new Tx(client);
      const result = await fn(tx);
      await this.flush(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Double-quotes an identifier for SQL text (schema names come from options, not from users). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
