// Conformance: schedules — stored and listed as given, found when due, and each slot fired once by
// a compare-and-set on nextRunAt, creating the task or skipping it (overlap) in the same step.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../../src/lib/ids.ts';
import type { FireScheduleRequest, NewSchedule, Store } from '../../../src/store/types.ts';
import { newTask, T0 } from './fixtures.ts';

const MINUTE = 60_000;
const TEMPLATE = { kind: 'shell' as const, spec: { command: 'date' } };

let sequence = 0;

function newSchedule(overrides: Partial<NewSchedule> = {}): NewSchedule {
  sequence += 1;
  return {
    id: newId(T0 + sequence),
    cron: '* * * * *',
    overlap: 'skip',
    task: TEMPLATE,
    enabled: true,
    nextRunAt: T0 + MINUTE,
    ...overrides,
  };
}

/** The request a server makes for the slot at `slot`: the task, then the slot a minute later. */
function fireAt(id: string, slot: number, overrides: Partial<FireScheduleRequest> = {}) {
  const task = newTask({ metadata: { scheduleId: id, slot }, runAt: slot });
  return { id, expectedNextRunAt: slot, nextRunAt: slot + MINUTE, task, now: slot, ...overrides };
}

async function eventsOfType(store: Store, type: string) {
  return store.listEvents({ type, limit: 100 });
}

export function describeSchedules(store: () => Store): void {
  describe('schedules', () => {
    it('stores, reads, lists newest first with a cursor, and deletes', async () => {
      const a = await store().createSchedule(newSchedule({ name: 'nightly' }), T0);
      const b = await store().createSchedule(
        newSchedule({ timezone: 'Europe/Paris', overlap: 'allow' }),
        T0 + 1,
      );
      assert.deepEqual(a, {
        id: a.id,
        name: 'nightly',
        cron: '* * * * *',
        overlap: 'skip',
        task: TEMPLATE,
        enabled: true,
        nextRunAt: T0 + MINUTE,
        fired: 0,
        skipped: 0,
        createdAt: T0,
        updatedAt: T0,
      });
      assert.equal(b.timezone, 'Europe/Paris');
      assert.deepEqual(await store().getSchedule(a.id), a);
      const first = await store().listSchedules({ limit: 1 });
      assert.deepEqual(
        first.schedules.map((s) => s.id),
        [b.id],
      );
      assert.ok(first.nextCursor);
      const second = await store().listSchedules({ limit: 1, cursor: first.nextCursor });
      assert.deepEqual(second, { schedules: [a] });
      assert.equal(await store().deleteSchedule(a.id, T0 + 2), true);
      assert.equal(await store().deleteSchedule(a.id, T0 + 2), false);
      assert.equal(await store().getSchedule(a.id), undefined);
      const logged = await eventsOfType(store(), 'schedule.deleted');
      assert.deepEqual(
        logged.map((e) => e.data),
        [{ scheduleId: a.id }],
      );
      assert.equal((await eventsOfType(store(), 'schedule.created')).length, 2);
    });

    it('finds due schedules earliest first; a disabled one never comes due', async () => {
      const later = await store().createSchedule(newSchedule({ nextRunAt: T0 + 2 * MINUTE }), T0);
      const sooner = await store().createSchedule(newSchedule({ nextRunAt: T0 + MINUTE }), T0);
      const off = await store().createSchedule(newSchedule({ enabled: false }), T0);
      assert.equal(off.nextRunAt, undefined);
      assert.equal(await store().nextScheduleRunAt(), T0 + MINUTE);
      assert.deepEqual(await store().findDueSchedules(T0 + MINUTE - 1, 10), []);
      const due = await store().findDueSchedules(T0 + 5 * MINUTE, 10);
      assert.deepEqual(
        due.map((s) => s.id),
        [sooner.id, later.id],
      );
      assert.equal((await store().findDueSchedules(T0 + 5 * MINUTE, 1)).length, 1);
    });

    it('fires a slot: advances nextRunAt and creates the task, linked both ways', async () => {
      const { id } = await store().createSchedule(newSchedule(), T0);
      const slot = T0 + MINUTE;
      const fired = await store().fireSchedule(fireAt(id, slot));
      assert.equal(fired.result, 'fired');
      if (fired.result !== 'fired') return;
      assert.equal(fired.task.scheduleId, id);
      assert.deepEqual(fired.task.metadata, { scheduleId: id, slot });
      assert.equal(fired.task.state, 'queued');
      assert.deepEqual((await store().getTask(fired.task.id))?.scheduleId, id);
      const schedule = await store().getSchedule(id);
      assert.equal(schedule?.nextRunAt, slot + MINUTE);
      assert.equal(schedule?.lastRunAt, slot);
      assert.equal(schedule?.lastTaskId, fired.task.id);
      assert.equal(schedule?.fired, 1);
      const [event] = await eventsOfType(store(), 'schedule.fired');
      assert.equal(event?.taskId, fired.task.id);
      assert.deepEqual(event?.data, { scheduleId: id, slot });
    });

    it('fires a slot once: a second call for the same slot, even at once, is stale', async () => {
      const { id } = await store().createSchedule(newSchedule({ overlap: 'allow' }), T0);
      const slot = T0 + MINUTE;
      const results = await Promise.all([
        store().fireSchedule(fireAt(id, slot)),
        store().fireSchedule(fireAt(id, slot)),
      ]);
      assert.deepEqual(results.map((r) => r.result).sort(), ['fired', 'stale']);
      assert.equal((await store().fireSchedule(fireAt(id, slot))).result, 'stale');
      assert.equal((await store().countTasks()).queued, 1);
      assert.equal((await store().getSchedule(id))?.fired, 1);
    });

    it('overlap skip: skips while the last task has not ended, then fires again', async () => {
      const { id } = await store().createSchedule(newSchedule(), T0);
      const slot = T0 + MINUTE;
      const first = await store().fireSchedule(fireAt(id, slot));
      assert.equal(first.result, 'fired');
      const skipped = await store().fireSchedule(fireAt(id, slot + MINUTE));
      assert.equal(skipped.result, 'skipped');
      if (first.result !== 'fired' || skipped.result !== 'skipped') return;
      assert.equal(skipped.previousTaskId, first.task.id);
      assert.equal(skipped.schedule.nextRunAt, slot + 2 * MINUTE);
      assert.equal(skipped.schedule.skipped, 1);
      assert.equal(skipped.schedule.lastSkippedAt, slot + MINUTE);
      const [event] = await eventsOfType(store(), 'schedule.skipped');
      assert.deepEqual(event?.data, {
        scheduleId: id,
        slot: slot + MINUTE,
        previousTaskId: first.task.id,
      });
      await store().cancelTask(first.task.id, slot + MINUTE + 1);
      const again = await store().fireSchedule(fireAt(id, slot + 2 * MINUTE));
      assert.equal(again.result, 'fired');
      assert.equal((await store().countTasks()).queued, 1);
    });

    it('overlap allow: fires while the last task is still queued', async () => {
      const { id } = await store().createSchedule(newSchedule({ overlap: 'allow' }), T0);
      const slot = T0 + MINUTE;
      assert.equal((await store().fireSchedule(fireAt(id, slot))).result, 'fired');
      assert.equal((await store().fireSchedule(fireAt(id, slot + MINUTE))).result, 'fired');
      assert.equal((await store().countTasks()).queued, 2);
    });

    it('a last task pruned by retention counts as ended', async () => {
      const { id } = await store().createSchedule(newSchedule(), T0);
      const slot = T0 + MINUTE;
      const first = await store().fireSchedule(fireAt(id, slot));
      assert.equal(first.result, 'fired');
      if (first.result !== 'fired') return;
      await store().cancelTask(first.task.id, slot + 1);
      const rules = { now: slot + 2, finishedBefore: slot + 2, readBefore: 0 };
      const limits = { maxFinished: 1_000, eventsBefore: 0, maxEvents: 1_000, batch: 10 };
      assert.equal((await store().prune({ ...rules, ...limits })).tasks, 1);
      assert.equal(await store().getTask(first.task.id), undefined);
      assert.equal((await store().fireSchedule(fireAt(id, slot + MINUTE))).result, 'fired');
    });

    it('records a slot whose task could not be built, and moves on', async () => {
      const { id } = await store().createSchedule(newSchedule(), T0);
      const slot = T0 + MINUTE;
      const failed = await store().fireSchedule(
        fireAt(id, slot, { task: undefined, error: 'callback.webhook.secret: is required' }),
      );
      assert.equal(failed.result, 'failed');
      if (failed.result !== 'failed') return;
      assert.equal(failed.schedule.lastError, 'callback.webhook.secret: is required');
      assert.equal(failed.schedule.nextRunAt, slot + MINUTE);
      assert.equal((await eventsOfType(store(), 'schedule.failed')).length, 1);
      assert.equal((await store().fireSchedule(fireAt(id, slot + MINUTE))).result, 'fired');
      assert.equal((await store().getSchedule(id))?.lastError, undefined);
    });

    it('a deleted schedule, or one with no later slot, fires no more', async () => {
      const gone = await store().createSchedule(newSchedule(), T0);
      await store().deleteSchedule(gone.id, T0);
      assert.equal((await store().fireSchedule(fireAt(gone.id, T0 + MINUTE))).result, 'stale');
      const last = await store().createSchedule(newSchedule(), T0);
      const fired = await store().fireSchedule(
        fireAt(last.id, T0 + MINUTE, { nextRunAt: undefined }),
      );
      assert.equal(fired.result, 'fired');
      assert.equal((await store().getSchedule(last.id))?.nextRunAt, undefined);
      assert.deepEqual(await store().findDueSchedules(T0 + 100 * MINUTE, 10), []);
      assert.equal(await store().nextScheduleRunAt(), undefined);
      assert.equal((await store().countTasks()).queued, 1);
    });
  });
}
