// Which database `outpost serve` uses: the SQLite file (the default), or PostgreSQL named by
// `--database postgres://...` / OUTPOST_DATABASE_URL. A path or `sqlite:<path>` keeps SQLite.
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { pathField, type FieldParser, type FieldReader } from '../lib/config-fields.ts';

export type DatabaseTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export interface DatabaseConfig {
  database: DatabaseTarget;
  /** SQLite file; defaults to `${dataDir}/outpost.db`, and follows `database` when that is SQLite. */
  dbPath: string;
}

const POSTGRES_SCHEMES = ['postgres:', 'postgresql:'];

/** A postgres:// URL (with a host and a database name), `sqlite:<path>`, or a SQLite file path. */
export function databaseField(): FieldParser<DatabaseTarget> {
  const path = pathField({ home: homedir(), resolve, allowRelative: true });
  return (raw) => {
    const text = typeof raw === 'string' ? raw.trim() : '';
    if (/^postgres(ql)?:/i.test(text)) return parsePostgresUrl(text, raw);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
      return bad('must be a postgres:// URL, sqlite:<path> or a file path', raw);
    }
    const parsed = path(text.replace(/^sqlite:/i, ''));
    return parsed.ok ? { ok: true, value: { kind: 'sqlite', path: parsed.value } } : parsed;
  };
}

function parsePostgresUrl(text: string, raw: unknown): ReturnType<FieldParser<DatabaseTarget>> {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url === undefined || !POSTGRES_SCHEMES.includes(url.protocol.toLowerCase())) {
    return bad('must be a valid postgres:// URL', raw);
  }
  if (url.hostname === '' || url.pathname.length <= 1) {
    return bad('must name a host and a database (postgres://user@host:5432/outpost)', raw);
  }
  return { ok: true, value: { kind: 'postgres', url: text } };
}

/** The offending input without its password: a database URL may carry one. */
function bad(message: string, raw: unknown): { ok: false; message: string } {
  const shown = typeof raw === 'string' ? raw.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@') : raw;
  return { ok: false, message: `${message}, got ${JSON.stringify(shown)}` };
}

/** Reads `database` (flag, OUTPOST_DATABASE_URL, file key); unset means SQLite at `dbPath`. */
export function readDatabaseFields<C extends DatabaseConfig>(
  r: FieldReader<C>,
  dbPath: string,
): DatabaseConfig {
  const fallback: DatabaseTarget = { kind: 'sqlite', path: dbPath };
  const database = r.read('database', ['OUTPOST_DATABASE_URL'], databaseField(), fallback);
  return { database, dbPath: database.kind === 'sqlite' ? database.path : dbPath };
}
