// Group commit of creates: creates that reach the server in one turn are stored in one
// transaction, yet each request gets its own answer (created, repeated, conflicting or invalid),
// every created task is committed before its reply, and a waiting claim hears of each. Run twice:
// with the task service grouping creates (a store that does not batch, as PostgreSQL), and with
// SQLite's own write batch doing it (write-batch.test.ts shows that is one transaction).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type OutpostApp } from '../../src/server/create-app.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { NewTask } from '../../src/store/types.ts';
import { ADMIN_TOKEN, testAppOptions } from '../helpers/app.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const shell = (command: string) => ({ kind: 'shell', spec: { command: [command] } });

/**
 * The real store, with the size of each createTasks batch recorded on the way through; it says it
 * batches writes itself only when `batchesWrites`.
 */
function recordingBatches(
  store: SqliteStore,
  batches: number[],
  batchesWrites: boolean,
): SqliteStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'batchesWrites') return batchesWrites;
      if (prop === 'createTasks') {
        return (tasks: readonly NewTask[], now: number) => {
          batches.push(tasks.length);
          return target.createTasks(tasks, now);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

for (const storeBatches of [false, true]) {
  describe(`creates arriving together (${storeBatches ? "the store's write batch" : 'the task service groups them'})`, () => {
    let dir: string;
    let store: SqliteStore;
    let app: OutpostApp;
    const batches: number[] = [];

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'outpost-batch-'));
      store = openSqliteStore(join(dir, 'outpost.db'));
      const recorded = recordingBatches(store, batches, storeBatches);
      app = await createApp({ store: recorded, options: testAppOptions() });
      await app.ready();
    });
    after(async () => {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const drain = { runner: 'r1', max: 100, kinds: ['shell'] };
    /** The task as a read shows it, without the attempt history only single-task reads add. */
    const read = async (id: string) => {
      const reply = await app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: admin });
      const { attempts, ...task } = reply.json<{ attempts?: unknown }>();
      assert.ok(attempts);
      return task;
    };
    const claimSoon = async () => {
      const payload = { ...drain, waitMs: 10_000 };
      const reply = await app.inject({
        method: 'POST',
        url: '/v1/runner/claim',
        headers: admin,
        payload,
      });
      return reply.json<{ tasks: { task: { id: string }; leaseToken: string }[] }>().tasks;
    };

    const create = (payload: object, key?: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: key === undefined ? admin : { ...admin, 'idempotency-key': key },
        payload,
      });

    it('answers each create on its own and commits them all in one transaction', async () => {
      const first = await create(shell('one'), 'k-existing');
      batches.length = 0;
      const replies = await Promise.all([
        create(shell('a')),
        create(shell('b'), 'k-new'),
        create(shell('one'), 'k-existing'),
        create(shell('other'), 'k-existing'),
        create(shell('b'), 'k-new'),
        create({ kind: 'shell', spec: {} }),
        app.inject({ method: 'POST', url: '/tasks', headers: admin, payload: { command: 'c' } }),
        create(shell('d')),
      ]);
      assert.deepEqual(
        replies.map((r) => r.statusCode),
        [201, 201, 200, 409, 200, 400, 200, 201],
      );
      if (storeBatches)
        assert.deepEqual(batches, [1, 1, 1, 1, 1, 1, 1], 'each straight to the store');
      else assert.deepEqual(batches, [7], 'the seven valid creates left in one batch');
      const ids = replies.map((r) => {
        const body = r.json<{ id?: string; taskId?: string }>();
        return body.id ?? body.taskId;
      });
      assert.equal(ids[2], first.json<{ id: string }>().id);
      assert.equal(ids[4], ids[1], 'a key repeated in the batch answers with its first task');
      const fresh = [ids[0], ids[1], ids[6], ids[7]];
      assert.equal(new Set(fresh).size, 4);
      // Committed before the replies: a second connection to the file sees every one.
      const reader = openSqliteStore(join(dir, 'outpost.db'));
      try {
        for (const id of fresh) assert.equal((await reader.getTask(id!))?.state, 'queued');
      } finally {
        await reader.close();
      }
    });

    it('answers a create that waits with the task as it ended, as a read shows it', async () => {
      await app.inject({ method: 'POST', url: '/v1/runner/claim', headers: admin, payload: drain });
      const url = '/v1/tasks?wait=20000';
      const headers = { ...admin, 'idempotency-key': 'k-wait' };
      const waiting = app.inject({ method: 'POST', url, headers, payload: shell('w') });
      const [claim] = await claimSoon();
      const outcome = { status: 'succeeded', exitCode: 0, stdout: 'w\n' };
      const { taskId, leaseToken } = { taskId: claim!.task.id, leaseToken: claim!.leaseToken };
      await app.inject({
        method: 'POST',
        url: '/v1/runner/finish',
        headers: admin,
        payload: { taskId, leaseToken, outcome },
      });
      const reply = await waiting;
      assert.equal(reply.statusCode, 201);
      assert.deepEqual(reply.json(), await read(taskId));
      assert.equal(reply.json<{ state: string }>().state, 'succeeded');
      // The same key again names the ended task: answered at once, not after the wait.
      const repeat = await app.inject({ method: 'POST', url, headers, payload: shell('w') });
      assert.equal(repeat.statusCode, 200);
      assert.deepEqual(repeat.json(), reply.json());
    });

    it('answers a create whose wait runs out with the task as it is', async () => {
      const reply = await app.inject({
        method: 'POST',
        url: '/v1/tasks?wait=50',
        headers: admin,
        payload: shell('nobody'),
      });
      assert.equal(reply.statusCode, 201);
      assert.equal(reply.json<{ state: string }>().state, 'queued');
    });

    it('wakes a waiting claim for tasks created together, which it takes in one claim', async () => {
      await app.inject({ method: 'POST', url: '/v1/runner/claim', headers: admin, payload: drain });
      const poll = app.inject({
        method: 'POST',
        url: '/v1/runner/claim',
        headers: admin,
        payload: { ...drain, waitMs: 10_000 },
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const created = await Promise.all([create(shell('x')), create(shell('y'))]);
      const ids = created.map((r) => r.json<{ id: string }>().id).sort();
      const claimed = (await poll).json<{ tasks: { task: { id: string } }[] }>().tasks;
      const woken = claimed.map((c) => c.task.id);
      if (!storeBatches) {
        assert.deepEqual(woken.sort(), ids);
        return;
      }
      // The woken claim commits with the creates of its own turn (the store's test shows that
      // exactly); inject may finish the second create a turn later, and then the next claim has it.
      assert.ok(woken.length >= 1 && woken.every((id) => ids.includes(id)));
      const rest = await app.inject({
        method: 'POST',
        url: '/v1/runner/claim',
        headers: admin,
        payload: drain,
      });
      const more = rest.json<{ tasks: { task: { id: string } }[] }>().tasks.map((c) => c.task.id);
      assert.deepEqual([...woken, ...more].sort(), ids);
    });
  });
}

describe("a claim poll parked on the store's write batch", () => {
  it('is woken as the create is submitted and leases the task in the same transaction', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-batch-'));
    const store = openSqliteStore(join(dir, 'outpost.db'));
    const log: string[] = [];
    const logged = new Proxy(store, {
      get(target, prop) {
        if (prop === 'createTasks') {
          return async (tasks: readonly NewTask[], now: number) => {
            log.push('create submitted');
            const results = await target.createTasks(tasks, now);
            log.push('create committed');
            return results;
          };
        }
        if (prop === 'claimTasks') {
          return (req: Parameters<SqliteStore['claimTasks']>[0]) => {
            log.push('claim submitted');
            return target.claimTasks(req);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    const app = await createApp({ store: logged, options: testAppOptions() });
    try {
      await app.ready();
      const payload = { runner: 'r1', max: 4, kinds: ['shell'], waitMs: 10_000 };
      const poll = app.inject({ method: 'POST', url: '/v1/runner/claim', headers: admin, payload });
      while (!log.includes('claim submitted')) await new Promise((r) => setTimeout(r, 5));
      log.length = 0;
      const created = await app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: admin,
        payload: shell('x'),
      });
      const claimed = (await poll).json<{ tasks: { task: { id: string } }[] }>().tasks;
      assert.deepEqual(
        claimed.map((c) => c.task.id),
        [created.json<{ id: string }>().id],
      );
      assert.deepEqual(log, ['create submitted', 'claim submitted', 'create committed']);
    } finally {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
