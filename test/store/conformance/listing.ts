// Conformance: listing tasks newest first with filters and opaque cursors, and counting by state.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STATES, type Outcome, type TaskState } from '../../../src/protocol/tasks.ts';
import type { Store, TaskFilter } from '../../../src/store/types.ts';
import { addTasks, appError, claimOne, FAILED, newTask, SUCCEEDED, T0 } from './fixtures.ts';

/** Per outcome: creates a task, claims the oldest queued one and ends it so; returns those ids. */
async function endTasks(store: Store, outcomes: Outcome[]): Promise<string[]> {
  const ids: string[] = [];
  for (const outcome of outcomes) {
    await addTasks(store, 1);
    const claim = await claimOne(store);
    const { taskId, leaseToken } = { taskId: claim.task.id, leaseToken: claim.leaseToken };
    const ended = await store.finishAttempt({ taskId, leaseToken, outcome, now: T0 + 1 });
    assert.equal(ended?.state, outcome.status);
    ids.push(taskId);
  }
  return ids;
}

/** Follows nextCursor to the end, returning each page's ids. */
async function listAllPages(store: Store, filter: TaskFilter): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listTasks({ ...filter, cursor });
    pages.push(page.tasks.map((t) => t.id));
    cursor = page.nextCursor;
    assert.ok(pages.length <= 100, 'pagination did not end');
  } while (cursor !== undefined);
  return pages;
}

export function describeListing(store: () => Store): void {
  describe('listing tasks', () => {
    it('lists newest first across three pages without duplicates or gaps', async () => {
      const ids = await addTasks(store(), 25);
      const pages = await listAllPages(store(), { limit: 10 });
      assert.deepEqual(
        pages.map((p) => p.length),
        [10, 10, 5],
      );
      assert.deepEqual(pages.flat(), ids.reverse());
    });

    it('gives no nextCursor when a page ends exactly at the last task', async () => {
      await addTasks(store(), 4);
      const page = await store().listTasks({ limit: 4 });
      assert.equal(page.tasks.length, 4);
      assert.equal(page.nextCursor, undefined);
      assert.deepEqual(await store().listTasks({ limit: 4, state: 'running' }), { tasks: [] });
    });

    it('filters by state, kind, runner and session key', async () => {
      const [plain] = await addTasks(store(), 1);
      const [read] = await addTasks(store(), 1, { kind: 'file.read', spec: { path: '/a' } });
      const [session] = await addTasks(store(), 1, { sessionKey: 's1', priority: 9 });
      const claimed = await claimOne(store(), { runner: 'r2' });
      const ids = async (filter: Omit<TaskFilter, 'limit'>) =>
        (await store().listTasks({ ...filter, limit: 50 })).tasks.map((t) => t.id);
      assert.equal(claimed.task.id, session);
      assert.deepEqual(await ids({ state: 'queued' }), [read, plain]);
      assert.deepEqual(await ids({ kind: 'file.read' }), [read]);
      assert.deepEqual(await ids({ runner: 'r2' }), [session]);
      assert.deepEqual(await ids({ sessionKey: 's1', state: 'running' }), [session]);
      assert.deepEqual(await ids({ sessionKey: 's1', state: 'queued' }), []);
    });

    it('lists each live and ended state, newest first', async () => {
      const [cancelled] = await addTasks(store(), 1);
      await store().cancelTask(cancelled!, T0);
      const [ok1, ok2, failed] = await endTasks(store(), [SUCCEEDED, SUCCEEDED, FAILED]);
      const [queued] = await addTasks(store(), 1);
      const ids = async (state: TaskState) =>
        (await store().listTasks({ state, limit: 50 })).tasks.map((t) => t.id);
      assert.deepEqual(await ids('succeeded'), [ok2, ok1]);
      assert.deepEqual(await ids('failed'), [failed]);
      assert.deepEqual(await ids('cancelled'), [cancelled]);
      assert.deepEqual(await ids('queued'), [queued]);
      assert.deepEqual(await ids('running'), []);
      const page = await store().listTasks({ state: 'succeeded', limit: 1 });
      assert.deepEqual(
        page.tasks.map((t) => t.id),
        [ok2],
      );
      const rest = await store().listTasks({
        state: 'succeeded',
        limit: 1,
        cursor: page.nextCursor,
      });
      assert.deepEqual(
        rest.tasks.map((t) => t.id),
        [ok1],
      );
    });

    it('pages through a filtered list', async () => {
      const wanted = await addTasks(store(), 7, { sessionKey: 's1' });
      await addTasks(store(), 5, { sessionKey: 's2' });
      const pages = await listAllPages(store(), { sessionKey: 's1', limit: 3 });
      assert.deepEqual(
        pages.map((p) => p.length),
        [3, 3, 1],
      );
      assert.deepEqual(pages.flat(), wanted.reverse());
    });

    it('refuses a malformed cursor', async () => {
      for (const cursor of ['not a cursor', Buffer.from('hello').toString('base64url'), '']) {
        await assert.rejects(
          store().listTasks({ limit: 5, cursor }),
          appError('bad_request'),
          cursor,
        );
      }
    });
  });

  describe('counting tasks', () => {
    it('counts every state, zeros included', async () => {
      const zeros = Object.fromEntries(STATES.map((s) => [s, 0]));
      assert.deepEqual(await store().countTasks(), zeros);
      const [first] = await addTasks(store(), 3);
      await store().createTask(newTask({ runAt: T0 + 60_000 }), T0);
      await store().cancelTask(first!, T0);
      await claimOne(store());
      const live = { ...zeros, queued: 1, scheduled: 1, running: 1, cancelled: 1 };
      assert.deepEqual(await store().countTasks(), live);
      // Each claims the oldest queued task, and the last one created stays queued.
      await endTasks(store(), [SUCCEEDED, SUCCEEDED, FAILED]);
      assert.deepEqual(await store().countTasks(), { ...live, succeeded: 2, failed: 1 });
    });
  });
}
