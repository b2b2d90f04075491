// The SQLite store's write batch: writes submitted in one turn commit in one transaction, early
// ones first, a call that throws (with or without a transaction of its own) undoes its own writes
// only (rejecting, or answering with its Error when submitted as an item), a busy database makes
// the batch wait, and close commits what waits.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { WriteBatch } from '../../src/store/sqlite/write-batch.ts';

const dir = mkdtempSync(join(tmpdir(), 'outpost-batch-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function open(): { db: Database.Database; path: string; batch: WriteBatch } {
  const path = join(dir, `batch-${++files}.db`);
  const db = new Database(path, { timeout: 20 });
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE items (name TEXT PRIMARY KEY)');
  return { db, path, batch: new WriteBatch(db, path) };
}

/**
 * Submits an insert and then a call whose failure ends the transaction itself (as a full disk
 * does), and checks both are rejected with nothing of the batch committed.
 */
async function failsAsOne(
  db: Database.Database,
  submit: (call: () => unknown) => Promise<unknown>,
): Promise<void> {
  const insert = db.prepare('INSERT INTO items (name) VALUES (?)');
  const before = db.prepare('SELECT COUNT(*) FROM items').pluck().get();
  const ok = submit(() => insert.run('kept?'));
  const ending = submit(() => {
    insert.run('ending');
    db.exec('ROLLBACK');
    throw new Error('disk I/O error');
  });
  await assert.rejects(ok, /disk I\/O error/);
  await assert.rejects(ending, /disk I\/O error/);
  assert.equal(db.prepare('SELECT COUNT(*) FROM items').pluck().get(), before);
}

describe('write batch', () => {
  it('commits the writes of one turn in one transaction, in order', async () => {
    const { db, batch } = open();
    const insert = db.transaction((name: string) => {
      db.prepare('INSERT INTO items (name) VALUES (?)').run(name);
      return { name, inBatch: db.inTransaction };
    });
    const seenBefore: number[] = [];
    const count = () => db.prepare('SELECT COUNT(*) AS n FROM items').pluck().get() as number;
    const writes = ['a', 'b', 'c'].map((name) =>
      batch.submit(() => {
        seenBefore.push(count());
        return insert(name);
      }),
    );
    assert.equal(count(), 0, 'nothing runs before the turn ends');
    const results = await Promise.all(writes);
    assert.deepEqual(
      results.map((r) => r.name),
      ['a', 'b', 'c'],
    );
    assert.ok(results.every((r) => r.inBatch));
    assert.deepEqual(seenBefore, [0, 1, 2], 'each call sees the ones before it');
    assert.equal(count(), 3);
    db.close();
  });

  it('runs early calls first and answers every call in the order submitted', async () => {
    const { db, batch } = open();
    const ran: string[] = [];
    const call = (name: string) => () => {
      ran.push(name);
      db.prepare('INSERT INTO items (name) VALUES (?)').run(name);
      return name;
    };
    assert.equal(batch.hasEarlyWaiting(), false);
    const answers = [
      batch.submit(call('claim-1')),
      batch.submit(call('create-1'), { early: true }),
      batch.submit(call('claim-2')),
      batch.submit(call('create-2'), { early: true }),
    ];
    assert.equal(batch.hasEarlyWaiting(), true, 'an early call waits for the batch');
    assert.deepEqual(await Promise.all(answers), ['claim-1', 'create-1', 'claim-2', 'create-2']);
    assert.deepEqual(ran, ['create-1', 'create-2', 'claim-1', 'claim-2']);
    assert.equal(batch.hasEarlyWaiting(), false, 'none once the batch ran');
    db.close();
  });

  it('undoes a failing call alone and rejects only its promise', async () => {
    const { db, batch } = open();
    const insertTwo = db.transaction((first: string, second: string) => {
      db.prepare('INSERT INTO items (name) VALUES (?)').run(first);
      db.prepare('INSERT INTO items (name) VALUES (?)').run(second);
    });
    const ok = batch.submit(() => insertTwo('a', 'b'));
    // 'c' goes in, then 'a' collides: its savepoint takes 'c' back out with it.
    const failing = batch.submit(() => insertTwo('c', 'a'));
    const later = batch.submit(() => insertTwo('d', 'e'));
    await ok;
    await assert.rejects(failing, /UNIQUE/);
    await later;
    const names = db.prepare('SELECT name FROM items ORDER BY name').pluck().all();
    assert.deepEqual(names, ['a', 'b', 'd', 'e']);
    db.close();
  });

  it('undoes a failing bare call alone: the batch runs again with each call isolated', async () => {
    const { db, batch } = open();
    const insert = db.prepare('INSERT INTO items (name) VALUES (?)');
    const runs: string[] = [];
    // No transaction of their own: the first run has no savepoints to undo 'c' alone.
    const insertTwo = (first: string, second: string) => () => {
      runs.push(first);
      insert.run(first);
      insert.run(second);
      return first;
    };
    const answers = [
      batch.submit(insertTwo('a', 'b')),
      batch.submit(insertTwo('c', 'a')),
      batch.submit(insertTwo('d', 'e'), { early: true }),
    ];
    const settled = await Promise.allSettled(answers);
    assert.deepEqual(
      settled.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected')),
      ['a', 'rejected', 'd'],
    );
    const rejected = settled[1];
    assert.ok(rejected?.status === 'rejected' && /UNIQUE/.test(String(rejected.reason)));
    assert.deepEqual(runs, ['d', 'a', 'c', 'd', 'a', 'c'], 'a first run, then an isolated one');
    const names = db.prepare('SELECT name FROM items ORDER BY name').pluck().all();
    assert.deepEqual(names, ['a', 'b', 'd', 'e']);
    db.close();
  });

  it('fails the whole batch when a failure ends the transaction itself', async () => {
    const { db, batch } = open();
    await failsAsOne(db, (call) => batch.submit(call));
    db.close();
  });

  it("submitItem answers a call's own failure as its Error; a whole batch's failure rejects", async () => {
    const { db, batch } = open();
    const insert = db.prepare('INSERT INTO items (name) VALUES (?)');
    const insertTwo = (first: string, second: string) => () => {
      insert.run(first);
      insert.run(second);
      return first;
    };
    const answers = await Promise.all([
      batch.submitItem(insertTwo('a', 'b'), { early: true }),
      batch.submitItem(insertTwo('c', 'a'), { early: true }),
      batch.submit(insertTwo('d', 'e')),
    ]);
    assert.equal(answers[0], 'a');
    assert.ok(answers[1] instanceof Error && /UNIQUE/.test(answers[1].message), String(answers[1]));
    assert.equal(answers[2], 'd');
    const names = db.prepare('SELECT name FROM items ORDER BY name').pluck().all();
    assert.deepEqual(names, ['a', 'b', 'd', 'e'], "the failing call's own write ('c') undone");

    await failsAsOne(db, (call) => batch.submitItem(call));
    db.close();
  });

  it('waits while another connection holds the write lock, then commits', async () => {
    const { db, path, batch } = open();
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const write = batch.submit(() => db.prepare('INSERT INTO items (name) VALUES (?)').run('x'));
    await new Promise((r) => setTimeout(r, 100));
    other.exec('COMMIT');
    await write;
    assert.equal(db.prepare('SELECT COUNT(*) FROM items').pluck().get(), 1);
    other.close();
    db.close();
  });

  it('flush commits what waits at once', async () => {
    const { db, batch } = open();
    const write = batch.submit(() => db.prepare('INSERT INTO items (name) VALUES (?)').run('x'));
    await batch.flush();
    assert.equal(db.prepare('SELECT COUNT(*) FROM items').pluck().get(), 1);
    db.close();
    await write;
  });
});
