// Prepares each SQLite statement once: fixed statements when a store opens, and statements whose
// text varies with their arguments (filters, number of kinds) on first use, keyed by SQL text.
import type Database from 'better-sqlite3';
import { TASK_COLUMNS } from './rows.ts';

export type Prepared<T extends Record<string, string>> = { [K in keyof T]: Database.Statement };

/** A function wrapped by db.transaction(); call `.immediate(...)` to run it under BEGIN IMMEDIATE. */
export type Transaction<A extends unknown[], R> = Database.Transaction<(...args: A) => R>;

/** Statements returning whole tasks read raw rows (see TASK_COLUMNS); the rest read objects. */
function prepare(db: Database.Database, sql: string): Database.Statement {
  const statement = db.prepare(sql);
  return sql.includes(TASK_COLUMNS) ? statement.raw() : statement;
}

/** Prepares a table of name → SQL once. */
export function prepareStatements<T extends Record<string, string>>(
  db: Database.Database,
  sqlByName: T,
): Prepared<T> {
  const entries = Object.entries(sqlByName).map(([name, sql]) => [name, prepare(db, sql)]);
  return Object.fromEntries(entries) as Prepared<T>;
}

/** A prepared-statement cache keyed by SQL text; callers build a bounded set of variants. */
export class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  get(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = prepare(this.db, sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
