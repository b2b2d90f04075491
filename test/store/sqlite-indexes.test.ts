// The partial state and event-type indexes (state-indexes.ts) only work if each query repeats
// their WHERE terms exactly: these read SQLite's plan for the store's own SQL, so a reworded term
// or migration shows up here as a full scan instead of a slower benchmark.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { STATES } from '../../src/protocol/tasks.ts';
import { buildEventListQuery } from '../../src/store/sqlite/event-log.ts';
import { FINISH_EVENT } from '../../src/store/sqlite/lease-shared.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import {
  LIVE_STATES,
  rareEventTypes,
  stateIndexTerm,
  UNSUCCESSFUL_STATES,
} from '../../src/store/sqlite/state-indexes.ts';
import { buildListQuery } from '../../src/store/sqlite/task-queries.ts';
import { EXPIRY_SQL } from '../../src/store/sqlite/expiry-queries.ts';
import { REGISTRY_SQL } from '../../src/store/sqlite/registry-queries.ts';

const T = 1_700_000_000_000;

const dir = mkdtempSync(join(tmpdir(), 'outpost-indexes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function migratedDb(): Promise<Database.Database> {
  const path = join(dir, `plans-${Math.random().toString(36).slice(2)}.db`);
  await openSqliteStore(path).close();
  return new Database(path);
}

/** The plan's detail lines, joined: "SEARCH tasks USING INDEX tasks_live_state (state=?)". */
function plan(db: Database.Database, sql: string, params: unknown[]): string {
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
  return rows.map((r) => r.detail).join('\n');
}

const LIVE = ['scheduled', 'held', 'queued', 'running'] as const;
const UNSUCCESSFUL = ['failed', 'timed_out', 'cancelled', 'lost'] as const;

describe('SQLite partial indexes', () => {
  it('gives every state but succeeded the term of the index that holds it', () => {
    const terms = Object.fromEntries(STATES.map((state) => [state, stateIndexTerm(state)]));
    const expected: Record<string, string | undefined> = { succeeded: undefined };
    for (const state of LIVE) expected[state] = LIVE_STATES;
    for (const state of UNSUCCESSFUL) expected[state] = UNSUCCESSFUL_STATES;
    assert.deepEqual(terms, expected);
  });

  it('leaves out of the type index exactly the events of a task that succeeds', () => {
    const hot = ['task.created', 'task.started', FINISH_EVENT.succeeded];
    assert.equal(rareEventTypes(), hot.map((t) => `type <> '${t}'`).join(' AND '));
  });

  it('is spelled in the schema as state-indexes.ts spells it for the queries', async () => {
    const db = await migratedDb();
    const indexSql = (name: string) =>
      (
        db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?").get(name) as {
          sql: string;
        }
      ).sql.replace(/\s+/g, ' ');
    assert.ok(indexSql('tasks_live_state').endsWith(`WHERE ${LIVE_STATES}`));
    assert.ok(indexSql('tasks_unsuccessful_state').endsWith(`WHERE ${UNSUCCESSFUL_STATES}`));
    assert.ok(indexSql('tasks_session_turns').endsWith(`AND ${LIVE_STATES}`));
    assert.ok(indexSql('events_rare_type').endsWith(`WHERE ${rareEventTypes()}`));
    db.close();
  });

  it('costs an insert, update or delete no temporary B-tree (as an IN list of 3+ would)', async () => {
    const db = await migratedDb();
    const tables = db
      .prepare(
        "SELECT DISTINCT tbl_name AS name FROM sqlite_schema WHERE type = 'index' AND sql LIKE '% WHERE %'",
      )
      .all() as { name: string }[];
    assert.ok(tables.some((t) => t.name === 'tasks') && tables.some((t) => t.name === 'events'));
    for (const { name } of tables) {
      const columns = (
        db.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as {
          name: string;
        }[]
      ).map((c) => `${c.name} = ${c.name}`);
      for (const sql of [
        `INSERT INTO ${name} DEFAULT VALUES`,
        `UPDATE ${name} SET ${columns.join(', ')} WHERE rowid = 1`,
        `DELETE FROM ${name} WHERE rowid = 1`,
      ]) {
        const ops = db.prepare(`EXPLAIN ${sql}`).all() as { opcode: string }[];
        assert.equal(ops.filter((op) => op.opcode === 'OpenEphemeral').length, 0, sql);
      }
    }
    db.close();
  });

  it('lists a live state through tasks_live_state and an ended one through its own index', async () => {
    const db = await migratedDb();
    for (const state of LIVE) {
      const { sql, params } = buildListQuery({ state, limit: 50 });
      assert.match(plan(db, sql, [...params, 50]), /USING INDEX tasks_live_state \(state=\?\)/);
    }
    for (const state of UNSUCCESSFUL) {
      const { sql, params } = buildListQuery({ state, limit: 50, cursor: undefined });
      const detail = plan(db, sql, [...params, 50]);
      assert.match(detail, /USING INDEX tasks_unsuccessful_state \(state=\?\)/);
    }
    const { sql, params } = buildListQuery({ state: 'succeeded', limit: 50 });
    assert.doesNotMatch(plan(db, sql, [...params, 50]), /state_|TEMP B-TREE/);
    db.close();
  });

  it('counts live and unsuccessful tasks from their indexes alone', async () => {
    const db = await migratedDb();
    const count = (term: string) =>
      plan(db, `SELECT state, COUNT(*) FROM tasks WHERE ${term} GROUP BY state`, []);
    assert.match(count(LIVE_STATES), /USING COVERING INDEX tasks_live_state/);
    assert.match(count(UNSUCCESSFUL_STATES), /USING COVERING INDEX tasks_unsuccessful_state/);
    db.close();
  });

  it('finds leased tasks (reaper, runner restart, runner list) in the live index only', async () => {
    const db = await migratedDb();
    const live = /USING (COVERING )?INDEX tasks_live_state \(state=\?\)/;
    assert.match(plan(db, EXPIRY_SQL.expired, [T, 10]), live);
    assert.match(plan(db, EXPIRY_SQL.otherInstances, ['r1', 'i1']), live);
    assert.match(plan(db, EXPIRY_SQL.extendRunning, [{ until: T, now: T }]), live);
    assert.match(plan(db, REGISTRY_SQL.allRunners, []), live);
    db.close();
  });

  it('lists a rare event type through events_rare_type, and a hot one in id order', async () => {
    const db = await migratedDb();
    const rare = buildEventListQuery({ type: 'runner.online', limit: 10 });
    assert.ok(rare.sql.includes(rareEventTypes('e.type')));
    assert.match(plan(db, rare.sql, [...rare.params, 10]), /USING INDEX events_rare_type/);
    const hot = buildEventListQuery({ type: 'task.created', after: 5, limit: 10 });
    assert.doesNotMatch(plan(db, hot.sql, [...hot.params, 10]), /events_rare_type|TEMP B-TREE/);
    db.close();
  });
});
