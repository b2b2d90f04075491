// Opens the store a database target names, migrated: the SQLite file (its directory created
// private to this user) or PostgreSQL, whose driver loads only when it is used.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Store } from '../store/types.ts';
import type { DatabaseTarget } from '../server/database-config.ts';

/** @example const store = await openStore({ kind: 'postgres', url: 'postgres://db/outpost' }); */
export async function openStore(target: DatabaseTarget): Promise<Store> {
  let store: Store;
  if (target.kind === 'postgres') {
    const { openPostgresStore } = await import('../store/postgres/postgres-store.ts');
    store = openPostgresStore(target.url);
  } else {
    const { openSqliteStore } = await import('../store/sqlite/sqlite-store.ts');
    mkdirSync(dirname(target.path), { recursive: true, mode: 0o700 });
    store = openSqliteStore(target.path);
  }
  try {
    await store.migrate();
    return store;
  } catch (err) {
    await store.close();
    throw err;
  }
}
