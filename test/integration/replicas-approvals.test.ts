// Approvals and batched finishes on PostgreSQL, through the real routes of two servers on one
// schema: a runner holds its task on server A, a person approves it on server B, A's next
// heartbeat carries the decision, and the runner resumes and finishes (as a batch) on A. Server B
// hears each step as a change notice (LISTEN/NOTIFY), as its waiters and followers do.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp, type OutpostApp } from '../../src/server/create-app.ts';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { TaskChange } from '../../src/store/types.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Task } from '../../src/protocol/tasks.ts';
import { ADMIN_TOKEN, testAppOptions } from '../helpers/app.ts';
import {
  createTestSchema,
  NO_DATABASE,
  TEST_DATABASE_URL,
  type TestSchema,
} from '../helpers/postgres.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const RULE = 'commands.requireApproval[0]';

interface Replica {
  app: OutpostApp;
  store: PostgresStore;
}

describe('approvals across server replicas on PostgreSQL', { timeout: 60_000 }, () => {
  const database = TEST_DATABASE_URL;
  if (database === undefined) {
    it('holds on one server, approves on another, resumes and finishes', { skip: NO_DATABASE });
    return;
  }
  let schema: TestSchema;
  let a: Replica;
  let b: Replica;
  /** The task changes server B heard from the others. */
  const heard: TaskChange[] = [];

  const start = async (): Promise<Replica> => {
    const store = openPostgresStore(schema.url, { max: 4 });
    await store.migrate();
    const app = await createApp({ store, options: testAppOptions() });
    await app.ready();
    return { app, store };
  };

  before(async () => {
    schema = await createTestSchema(database);
    [a, b] = [await start(), await start()];
    b.store.notifications.subscribe({ changed: (c) => heard.push(c), resync: () => {} });
  });

  after(async () => {
    for (const r of [a, b]) {
      await r?.app.close();
      await r?.store.close();
    }
    await schema?.drop();
  });

  const post = async (on: Replica, url: string, payload: object) => {
    const res = await on.app.inject({ method: 'POST', url, payload, headers: admin });
    assert.equal(res.statusCode < 300, true, `${url}: ${res.statusCode} ${res.body}`);
    return res;
  };

  /** Waits until B heard that the task reached `state`; the notice is prompt, not a backstop. */
  const heardState = async (taskId: string, state: string) => {
    const deadline = Date.now() + 3_000;
    const seen = () => heard.some((c) => 'state' in c && c.taskId === taskId && c.state === state);
    while (!seen()) {
      assert.ok(Date.now() < deadline, `server B never heard ${taskId} become ${state}`);
      await sleep(20);
    }
  };

  it('holds on one server, approves on another, resumes and finishes', async () => {
    const created = await post(b, '/v1/tasks', { kind: 'shell', spec: { command: 'git push' } });
    const taskId = created.json<Task>().id;
    const claimed = await post(a, '/v1/runner/claim', { runner: 'box', max: 1 });
    const claim = claimed.json<{ tasks: Claim[] }>().tasks[0]!;
    const lease = { taskId, leaseToken: claim.leaseToken };
    const beat = () => post(a, '/v1/runner/heartbeat', { runner: 'box', leases: [lease] });
    await beat();

    const expiresAt = Date.now() + 60_000;
    await post(a, '/v1/runner/hold', {
      ...lease,
      reason: 'git push needs a person',
      rule: RULE,
      expiresAt,
    });
    await heardState(taskId, 'held');
    const read = await b.app.inject({ url: `/v1/tasks/${taskId}`, headers: admin });
    assert.equal(read.json<Task>().state, 'held');
    assert.equal(read.json<Task>().hold?.rule, RULE);

    const decided = await post(b, `/v1/tasks/${taskId}/approve`, { reason: 'ok' });
    assert.equal(decided.json<Task>().hold?.decision?.decision, 'approved');
    const carried = (await beat()).json<{ decisions: { taskId: string }[] }>().decisions;
    assert.deepEqual(
      carried.map((d) => d.taskId),
      [taskId],
    );

    const decision = decided.json<Task>().hold!.decision!;
    const resumed = await post(a, '/v1/runner/resume', { ...lease, decision });
    assert.equal(resumed.json<{ task: Task }>().task.state, 'running');
    await heardState(taskId, 'running');
    assert.deepEqual((await beat()).json<{ decisions: unknown[] }>().decisions, [], 'acted on');

    const outcome = { status: 'succeeded', exitCode: 0, durationMs: 5 };
    const stale = { taskId, leaseToken: 'stale', outcome };
    const finished = await post(a, '/v1/runner/finish', {
      results: [stale, { ...lease, outcome }],
    });
    const results = finished.json<{
      results: { taskId: string; state?: string; error?: object }[];
    }>();
    assert.equal(results.results[0]?.state, undefined, 'a stale lease fails alone');
    assert.ok(results.results[0]?.error);
    assert.equal(results.results[1]?.state, 'succeeded');
    await heardState(taskId, 'succeeded');
    const events = await b.store.listEvents({ taskId, limit: 50 });
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'task.created',
        'task.started',
        'task.held',
        'task.approved',
        'task.resumed',
        'task.completed',
      ],
    );
  });
});
