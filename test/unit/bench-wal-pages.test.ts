// The bench's WAL reader (bench/wal-pages.ts): which tables and indexes each commit wrote, and
// only the commits since the WAL last restarted.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { walPagesByTree } from '../../bench/wal-pages.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { newId } from '../../src/lib/ids.ts';
import type { NewTask } from '../../src/store/types.ts';

function newTask(): NewTask {
  return {
    id: newId(),
    kind: 'shell',
    spec: { command: ['true'] },
    priority: 0,
    runAt: Date.now(),
    timeoutMs: 1_000,
    maxAttempts: 1,
    retryOnFailure: false,
    origin: 'v1',
    legacyCompatible: true,
  };
}

describe('bench WAL pages', () => {
  it('names the B-trees of each commit and skips frames from before a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-wal-pages-'));
    const file = join(dir, 'w.db');
    const store = openSqliteStore(file);
    try {
      await store.migrate();
      for (let i = 0; i < 3; i++) await store.createTask(newTask(), Date.now());
      const before = walPagesByTree(file);
      assert.ok(before.length >= 3, `${before.length} commits`);
      const other = new Database(file);
      other.pragma('wal_checkpoint(RESTART)');
      other.close();
      await store.createTask(newTask(), Date.now());
      const after = walPagesByTree(file);
      assert.equal(after.length, 1, 'only the commit since the restart');
      for (const tree of ['tasks', 'events', 'sqlite_autoindex_tasks_1']) {
        assert.ok(after[0]!.includes(tree), `${tree} in ${after[0]!.join(', ')}`);
      }
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
