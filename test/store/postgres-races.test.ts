// What several PostgreSQL pools (as several servers) racing on one schema must never do: run more
// tasks of a concurrency key than its limit (SKIP LOCKED alone would let two claimers count the
// same free slot), or fire one schedule slot twice. Skipped without TEST_DATABASE_URL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { Store } from '../../src/store/types.ts';
import { newId } from '../../src/lib/ids.ts';
import {
  createTestSchema,
  NO_DATABASE,
  TEST_DATABASE_URL,
  type TestSchema,
} from '../helpers/postgres.ts';
import { addTasks, claimConcurrently, newTask, SUCCEEDED, T0 } from './conformance/fixtures.ts';

const MINUTE = 60_000;
const LIMITS = { deploy: 2, backup: 1, build: 3 } as const;
type Key = keyof typeof LIMITS;

describe('postgres store races across pools', { timeout: 120_000 }, () => {
  const database = TEST_DATABASE_URL;
  if (database === undefined) {
    it('keeps concurrency limits and fires each schedule slot once', { skip: NO_DATABASE });
    return;
  }
  let schema: TestSchema;
  let stores: PostgresStore[];

  before(async () => {
    schema = await createTestSchema(database);
    stores = [1, 2, 3, 4].map(() => openPostgresStore(schema.url, { max: 4 }));
    await Promise.all(stores.map((s) => s.migrate()));
  });

  after(async () => {
    await Promise.all((stores ?? []).map((s) => s.close()));
    await schema?.drop();
  });

  it('never leases more tasks of a key than its limit, over rounds of finishing', async () => {
    const byKey = new Map<string, Key>();
    const plain: string[] = [];
    for (let i = 0; i < 240; i++) {
      const key = (['deploy', 'backup', 'build', undefined] as const)[i % 4];
      const extra = key === undefined ? {} : { concurrency: { key, limit: LIMITS[key] } };
      const [id] = await addTasks(stores[0]!, 1, extra);
      if (key === undefined) plain.push(id!);
      else byKey.set(id!, key);
    }
    const seen = new Set<string>();
    // Each round: 16 claim loops on 4 pools take what they may; then every keyed task that was
    // leased finishes, freeing its slot for the next round.
    for (let round = 0; round < 4; round++) {
      const claimed = await claimConcurrently(stores, 16, T0 + round);
      for (const id of claimed) {
        assert.ok(!seen.has(id), `task ${id} was claimed twice`);
        seen.add(id);
      }
      for (const key of Object.keys(LIMITS) as Key[]) {
        const ran = claimed.filter((id) => byKey.get(id) === key).length;
        assert.equal(ran, LIMITS[key], `round ${round}: key ${key} ran ${ran} at once`);
        assert.equal(await stores[1]!.countRunningWithKey(key), LIMITS[key]);
      }
      await finishKeyed(
        stores[2]!,
        claimed.filter((id) => byKey.has(id)),
        T0 + round,
      );
    }
    assert.deepEqual(
      plain.filter((id) => seen.has(id)),
      plain,
      'every task without a key was claimed in the first round',
    );
  });

  it('fires each slot of a schedule once when two servers fire it at the same time', async () => {
    const [a, b] = [stores[0]!, stores[1]!];
    const id = newId(T0);
    const first = T0 + MINUTE;
    await a.createSchedule(
      { id, cron: '* * * * *', overlap: 'allow', task: TEMPLATE, enabled: true, nextRunAt: first },
      T0,
    );
    const slots = Array.from({ length: 20 }, (_, i) => first + i * MINUTE);
    for (const slot of slots) {
      const fire = (store: Store) => {
        const task = newTask({ metadata: { scheduleId: id, slot }, runAt: slot });
        return store.fireSchedule({
          id,
          expectedNextRunAt: slot,
          nextRunAt: slot + MINUTE,
          task,
          now: slot,
        });
      };
      const results = await Promise.all([fire(a), fire(b), fire(a), fire(b)]);
      assert.deepEqual(results.map((r) => r.result).sort(), ['fired', 'stale', 'stale', 'stale']);
    }
    const schedule = await b.getSchedule(id);
    assert.equal(schedule?.fired, slots.length);
    assert.equal(schedule?.nextRunAt, slots.at(-1)! + MINUTE);
    const fired = await a.listEvents({ type: 'schedule.fired', limit: 100 });
    assert.deepEqual(
      fired.map((e) => e.data?.slot),
      slots,
    );
    const tasks = await a.listTasks({ limit: 100 });
    assert.equal(tasks.tasks.filter((t) => t.scheduleId === id).length, slots.length);
  });
});

const TEMPLATE = { kind: 'shell' as const, spec: { command: 'date' } };

async function finishKeyed(store: Store, ids: string[], now: number): Promise<void> {
  for (const id of ids) {
    const lease = await store.getLease(id);
    assert.ok(lease, `task ${id} is running`);
    await store.finishAttempt({
      taskId: id,
      leaseToken: lease.leaseToken,
      outcome: SUCCEEDED,
      now,
    });
  }
}
