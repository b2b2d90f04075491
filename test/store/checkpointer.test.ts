// WAL checkpoints on a worker thread: the worker copies the WAL into the database file every
// `every` commits of the store's write batch, and the store's close leaves no WAL behind.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { Checkpointer, type CheckpointReply } from '../../src/store/sqlite/checkpointer.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { newTask, T0 } from './conformance/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'outpost-checkpoint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function until(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await sleep(10);
  assert.ok(done(), what);
}

describe('checkpointer', () => {
  it('copies every frame of the WAL into the database file on its own thread', async () => {
    const path = join(dir, 'direct.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE items (body TEXT)');
    const insert = db.prepare('INSERT INTO items (body) VALUES (?)');
    for (let i = 0; i < 200; i++) insert.run('x'.repeat(1_000));
    const sizeBefore = statSync(path).size;
    const replies: CheckpointReply[] = [];
    const checkpointer = new Checkpointer(path, { every: 2, onReply: (r) => replies.push(r) });
    checkpointer.committed();
    assert.equal(replies.length, 0, 'one commit is not enough');
    checkpointer.committed();
    await until('the worker answers', () => replies.length === 1);
    const [reply] = replies;
    assert.equal(reply?.ok, true, reply?.error);
    assert.equal(reply?.result?.busy, 0);
    assert.ok((reply?.result?.log ?? 0) > 0);
    assert.equal(reply?.result?.checkpointed, reply?.result?.log);
    assert.ok(statSync(path).size > sizeBefore, 'the pages reached the database file');
    await checkpointer.close();
    // Closed for good: commits after close start no worker.
    checkpointer.committed();
    checkpointer.committed();
    await sleep(200);
    assert.equal(replies.length, 1);
    db.close();
  });

  it('runs for the store every `checkpointEvery` batch commits; close leaves no WAL', async () => {
    const path = join(dir, 'store.db');
    const store = openSqliteStore(path, { checkpointEvery: 20 });
    await store.migrate();
    const migrated = statSync(path).size;
    // One create per turn, so each is its own commit; far below the connection's own
    // auto-checkpoint (10,000 pages), so only the worker can have moved pages into the file.
    for (let i = 0; i < 60; i++) await store.createTask(newTask(), T0);
    await until('the worker checkpointed', () => statSync(path).size > migrated);
    assert.equal((await store.listTasks({ limit: 100 })).tasks.length, 60);
    await store.close();
    assert.equal(existsSync(`${path}-wal`), false, 'the last connection to close removed the WAL');
    const reopened = openSqliteStore(path);
    assert.equal((await reopened.listTasks({ limit: 100 })).tasks.length, 60);
    await reopened.close();
  });

  it('never starts a worker for an in-memory store', async () => {
    const store = openSqliteStore(':memory:', { checkpointEvery: 1 });
    await store.migrate();
    for (let i = 0; i < 5; i++) await store.createTask(newTask(), T0);
    await store.close();
  });
});
