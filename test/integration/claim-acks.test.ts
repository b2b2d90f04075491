// Claims that acknowledge the claims of the reply before (`acks`, hello feature `claim-acks`):
// they answer as a heartbeat of those leases would, do not wait, and count the attempt from then on.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import type { Claim, ClaimReply, HelloReply } from '../../src/protocol/runner.ts';
import type { Task } from '../../src/protocol/tasks.ts';

const hello = { name: 'r1', instanceId: 'i1', capacity: 4, kinds: ['shell'], version: 'test' };

describe('claims carrying acknowledgements', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp()));
  after(() => t.close());

  const create = async (extra: object = {}) =>
    (await t.post('/v1/tasks', { kind: 'shell', spec: { command: 'x' }, ...extra })).json<Task>();
  const claim = async (body: object) => {
    const res = await t.post('/v1/runner/claim', { runner: 'r1', instanceId: 'i1', ...body });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<ClaimReply>();
  };
  const leaseOf = (c: Claim) => ({ taskId: c.task.id, leaseToken: c.leaseToken });

  it('hello says the server takes them', async () => {
    const reply = (await t.post('/v1/runner/hello', hello)).json<HelloReply>();
    assert.deepEqual(reply.features, ['claim-acks']);
  });

  it('acknowledges before claiming more, and a claim without acks has no `acked`', async () => {
    const first = await create({ maxAttempts: 1 });
    const second = await create({ maxAttempts: 1 });
    const plain = await claim({ max: 1 });
    assert.equal(plain.acked, undefined);
    assert.equal(plain.tasks[0]?.task.id, first.id);

    const reply = await claim({ max: 1, waitMs: 0, acks: plain.tasks.map(leaseOf) });
    assert.deepEqual(reply.acked?.lost, []);
    assert.deepEqual(reply.acked?.cancel, []);
    assert.deepEqual(
      reply.acked?.leases.map((l) => l.taskId),
      [first.id],
    );
    assert.equal(reply.tasks[0]?.task.id, second.id);

    // Past both leases: the acknowledged attempt counted (its only attempt: it ends `lost`); the
    // one never acknowledged goes back to the queue uncounted.
    const later = Date.now() + 120_000;
    const reaped = await t.store.requeueExpired(later, 10);
    const byId = new Map(reaped.map((task) => [task.id, task]));
    assert.equal(byId.get(first.id)?.state, 'lost');
    assert.equal(byId.get(second.id)?.state, 'queued');
  });

  it('answers lost leases and requested cancels as a heartbeat would', async () => {
    await create();
    // The oldest queued task, which may be an earlier test's requeued one.
    const [held] = (await claim({ max: 1 })).tasks;
    assert.ok(held);
    const task = held.task;
    const cancelled = await t.app.inject({
      method: 'POST',
      url: `/v1/tasks/${task.id}/cancel`,
      headers: t.admin,
    });
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    const stale = { taskId: held.task.id, leaseToken: 'not-the-token' };
    const reply = await claim({ max: 2, waitMs: 0, acks: [leaseOf(held), stale] });
    assert.deepEqual(reply.acked?.cancel, [task.id]);
    const staleReply = await claim({ max: 1, waitMs: 0, acks: [stale] });
    assert.deepEqual(staleReply.acked?.lost, [task.id]);
  });

  it('refuses malformed acks, naming the field, and changes nothing', async () => {
    const task = await create();
    const res = await t.post('/v1/runner/claim', {
      runner: 'r1',
      max: 1,
      acks: [{ taskId: task.id }],
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json<{ error: { message: string } }>().error.message, /acks/);
    const read = await t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id}`,
      headers: t.admin,
    });
    assert.equal(read.json<Task>().state, 'queued');
  });
});
