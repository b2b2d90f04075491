// Conformance: callbacks — stored with their task, due only once it has ended (by any path),
// claimed once, advanced and settled under their claim token, secrets never in reads or events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewCallback, Store } from '../../../src/store/types.ts';
import { newTask, startTask, SUCCEEDED, T0 } from './fixtures.ts';

const SECRET = 'per-task-secret-0123456789';
const DISCORD: NewCallback = { kind: 'discord', target: '123456', secret: SECRET };
const WEBHOOK: NewCallback = { kind: 'webhook', target: 'https://hooks.example.com/p/abc?k=v' };

const claimAt = (id: number, now: number, token = 'tok') => ({
  id,
  claimToken: token,
  now,
  claimedUntil: now + 60_000,
});

export function describeCallbacks(store: () => Store): void {
  describe('callbacks', () => {
    /** A task with callbacks, run to success; returns its id. */
    async function finishedWith(callbacks: NewCallback[]): Promise<string> {
      const claim = await startTask(store(), { callbacks });
      const ref = { taskId: claim.task.id, leaseToken: claim.leaseToken };
      await store().finishAttempt({ ...ref, outcome: SUCCEEDED, now: T0 + 10 });
      return claim.task.id;
    }

    it('stores callbacks with the task and shows them without secrets', async () => {
      const { task } = await store().createTask(newTask({ callbacks: [DISCORD, WEBHOOK] }), T0);
      const shown = await store().listCallbacks(task.id);
      assert.deepEqual(shown, [
        { kind: 'discord', target: '123456', state: 'waiting', attempts: 0, sentParts: 0 },
        { kind: 'webhook', target: 'https://hooks.example.com/…', state: 'waiting', attempts: 0 },
      ]);
      assert.doesNotMatch(JSON.stringify(shown), /per-task-secret/);
    });

    it('makes a callback due only once its task has ended, including a cancel before start', async () => {
      const { task } = await store().createTask(newTask({ callbacks: [DISCORD] }), T0);
      assert.deepEqual(await store().findDueCallbacks(T0 + 1, 10, [task.id]), []);
      await store().cancelTask(task.id, T0 + 2);
      const due = await store().findDueCallbacks(T0 + 3, 10, [task.id]);
      assert.equal(due.length, 1);
      assert.deepEqual(await store().findDueCallbacks(T0 + 3, 10), due);
      assert.equal(await store().nextCallbackDueAt(), T0);
    });

    it('finds the due callbacks of several ended tasks at once, and only theirs', async () => {
      const [a, b, other] = [
        await finishedWith([DISCORD, WEBHOOK]),
        await finishedWith([WEBHOOK]),
        await finishedWith([DISCORD]),
      ];
      const { task: live } = await store().createTask(newTask({ callbacks: [WEBHOOK] }), T0);
      const due = await store().findDueCallbacks(T0 + 20, 10, [a, b, live.id, 'no-such-task']);
      assert.equal(due.length, 3);
      const [ofOther] = await store().findDueCallbacks(T0 + 20, 10, [other]);
      assert.ok(ofOther !== undefined && !due.includes(ofOther));
      assert.deepEqual(await store().findDueCallbacks(T0 + 20, 10, []), []);
    });

    it('makes a callback due when an expired lease ends the task lost', async () => {
      const claim = await startTask(store(), { callbacks: [DISCORD] });
      assert.deepEqual(await store().findDueCallbacks(T0 + 1, 10), []);
      await store().requeueExpired(T0 + 10 * 60_000, 10);
      assert.equal((await store().getTask(claim.task.id))?.state, 'lost');
      assert.equal((await store().findDueCallbacks(T0 + 10 * 60_000, 10)).length, 1);
    });

    it('hands a claim to one claimer, with the secret, and logs the dispatch', async () => {
      const taskId = await finishedWith([DISCORD]);
      const [id] = await store().findDueCallbacks(T0 + 20, 10, [taskId]);
      const claimed = await store().claimCallback(claimAt(id!, T0 + 20, 'a'));
      assert.equal(claimed?.secret, SECRET);
      assert.equal(claimed?.sentParts, 0);
      assert.equal(await store().claimCallback(claimAt(id!, T0 + 21, 'b')), undefined);
      assert.deepEqual(await store().findDueCallbacks(T0 + 21, 10), []);
      const events = await store().listEvents({ taskId, type: 'callback.dispatched', limit: 10 });
      assert.deepEqual(events[0]?.data, {
        kind: 'discord',
        target: '123456',
        sentParts: 0,
        attempt: 1,
      });
    });

    it('records parts under the claim and refuses a stale claim token', async () => {
      const taskId = await finishedWith([DISCORD]);
      const [id] = await store().findDueCallbacks(T0 + 20, 10, [taskId]);
      await store().claimCallback(claimAt(id!, T0 + 20, 'a'));
      const progress = { ...claimAt(id!, T0 + 21, 'a'), parts: 3, sentParts: 1 };
      assert.equal(await store().recordCallbackProgress(progress), true);
      assert.equal(await store().recordCallbackProgress({ ...progress, claimToken: 'x' }), false);
      const [shown] = await store().listCallbacks(taskId);
      assert.equal(shown?.state, 'sending');
      assert.equal(shown?.parts, 3);
      assert.equal(shown?.sentParts, 1);
    });

    it('a restart releases claims: the part-sent callback resumes after its sent parts', async () => {
      const taskId = await finishedWith([DISCORD]);
      const [id] = await store().findDueCallbacks(T0 + 20, 10, [taskId]);
      await store().claimCallback(claimAt(id!, T0 + 20, 'a'));
      await store().recordCallbackProgress({
        ...claimAt(id!, T0 + 21, 'a'),
        parts: 3,
        sentParts: 2,
      });
      assert.equal(await store().releaseCallbackClaims(T0 + 22), 1);
      const again = await store().claimCallback(claimAt(id!, T0 + 23, 'b'));
      assert.equal(again?.sentParts, 2);
      const dispatched = await store().listEvents({
        taskId,
        type: 'callback.dispatched',
        limit: 9,
      });
      assert.equal(dispatched.length, 1, 'the same attempt goes on');
    });

    it('a counted retry waits, then a new attempt is dispatched with the previous error', async () => {
      const taskId = await finishedWith([DISCORD]);
      const [id] = await store().findDueCallbacks(T0 + 20, 10, [taskId]);
      await store().claimCallback(claimAt(id!, T0 + 20, 'a'));
      const retry = { id: id!, claimToken: 'a', now: T0 + 21, nextAt: T0 + 1_000 };
      assert.equal(
        await store().settleCallback({
          ...retry,
          result: 'retry',
          error: 'HTTP 502',
          counted: true,
        }),
        true,
      );
      assert.deepEqual(await store().findDueCallbacks(T0 + 999, 10), []);
      assert.equal(await store().nextCallbackDueAt(), T0 + 1_000);
      const [shown] = await store().listCallbacks(taskId);
      assert.deepEqual(
        [shown?.state, shown?.attempts, shown?.lastError],
        ['waiting', 1, 'HTTP 502'],
      );
      await store().claimCallback(claimAt(id!, T0 + 1_000, 'b'));
      const events = await store().listEvents({ taskId, type: 'callback.dispatched', limit: 9 });
      assert.deepEqual(
        events.map((e) => [e.data?.attempt, e.data?.previousError]),
        [
          [1, undefined],
          [2, 'HTTP 502'],
        ],
      );
    });

    it('a rate-limit wait is not counted and keeps the attempt going', async () => {
      const taskId = await finishedWith([DISCORD]);
      const [id] = await store().findDueCallbacks(T0 + 20, 10, [taskId]);
      await store().claimCallback(claimAt(id!, T0 + 20, 'a'));
      await store().settleCallback({
        ...{ id: id!, claimToken: 'a', now: T0 + 21, nextAt: T0 + 500 },
        result: 'retry',
        error: 'rate limited',
        counted: false,
      });
      const [shown] = await store().listCallbacks(taskId);
      assert.deepEqual([shown?.state, shown?.attempts], ['sending', 0]);
    });

    it('settles sent or failed once, logs it, and forgets the secret', async () => {
      const taskId = await finishedWith([DISCORD, WEBHOOK]);
      const [a, b] = await store().findDueCallbacks(T0 + 20, 10, [taskId]);
      await store().claimCallback(claimAt(a!, T0 + 20, 'a'));
      await store().claimCallback(claimAt(b!, T0 + 20, 'b'));
      const sent = { id: a!, claimToken: 'a', now: T0 + 30, result: 'sent' } as const;
      assert.equal(await store().settleCallback(sent), true);
      assert.equal(await store().settleCallback(sent), false, 'settled once');
      const failed = { id: b!, claimToken: 'b', now: T0 + 31, result: 'failed' } as const;
      assert.equal(await store().settleCallback({ ...failed, error: 'HTTP 404' }), true);
      const shown = await store().listCallbacks(taskId);
      assert.deepEqual(
        shown.map((c) => [c.state, c.attempts, c.sentAt, c.lastError]),
        [
          ['sent', 1, T0 + 30, undefined],
          ['failed', 1, undefined, 'HTTP 404'],
        ],
      );
      const types = (await store().listEvents({ taskId, limit: 50 })).map((e) => e.type);
      assert.deepEqual(types.slice(-2), ['callback.sent', 'callback.failed']);
      assert.equal(await store().claimCallback(claimAt(a!, T0 + 40, 'c')), undefined);
      assert.equal(await store().nextCallbackDueAt(), undefined);
    });

    it('keeps a task for retention while its callback is pending, and deletes them together', async () => {
      const taskId = await finishedWith([DISCORD]);
      const rules = {
        now: T0 + 100,
        finishedBefore: T0 + 100,
        readBefore: 0,
        maxFinished: 0,
        eventsBefore: 0,
        maxEvents: 1_000_000,
        batch: 10,
      };
      assert.equal((await store().prune(rules)).tasks, 0);
      const [id] = await store().findDueCallbacks(T0 + 20, 10, [taskId]);
      await store().claimCallback(claimAt(id!, T0 + 20, 'a'));
      await store().settleCallback({ id: id!, claimToken: 'a', now: T0 + 30, result: 'sent' });
      assert.equal((await store().prune(rules)).tasks, 1);
      assert.deepEqual(await store().listCallbacks(taskId), []);
    });
  });
}
