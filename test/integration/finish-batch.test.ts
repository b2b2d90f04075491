// The batch form of POST /v1/runner/finish over real HTTP on loopback: per-item answers (a lost
// lease or another runner's task fails only its own item), the single body still answered as
// before, a repeat of a stored finish answered as stored, and a malformed batch refused whole
// with the field named and nothing stored.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/protocol/errors.ts';
import type { Claim, FinishBody } from '../../src/protocol/runner.ts';
import type { Outcome } from '../../src/protocol/tasks.ts';
import { OutpostClient } from '../../src/sdk/client.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const OK: Outcome = { status: 'succeeded', exitCode: 0, stdout: 'done\n' };
const FAILED: Outcome = {
  status: 'failed',
  exitCode: 2,
  error: { kind: 'exit', message: 'exit code 2', retryable: false },
};

describe('POST /v1/runner/finish with a batch', () => {
  let server: TestServer;
  let admin: OutpostClient;
  let runnerA: OutpostClient;
  let runnerB: OutpostClient;

  before(async () => {
    server = await startTestServer();
    admin = new OutpostClient({ baseUrl: server.url, token: server.token });
    const tokenFor = async (runner: string) => {
      const { secret } = await admin.createToken({ name: `r-${runner}`, role: 'runner', runner });
      return new OutpostClient({ baseUrl: server.url, token: secret });
    };
    runnerA = await tokenFor('a');
    runnerB = await tokenFor('b');
  });
  after(() => server.close());

  /** `count` tasks for runner `a`, claimed by it. */
  async function claimed(count: number): Promise<Claim[]> {
    for (let i = 0; i < count; i++) {
      await admin.createTask({ kind: 'shell', spec: { command: 'true' }, target: { runner: 'a' } });
    }
    const { tasks } = await runnerA.claimTasks({ runner: 'a', max: count });
    assert.equal(tasks.length, count);
    return tasks;
  }

  const body = (c: Claim, outcome: Outcome = OK): FinishBody => ({
    taskId: c.task.id,
    leaseToken: c.leaseToken,
    outcome,
  });

  it('answers each outcome on its own: a stale lease fails only its item', async () => {
    const [a, b, c] = await claimed(3);
    const { results } = await runnerA.finishAttempts([
      body(a!),
      { ...body(b!), leaseToken: 'stale-token' },
      body(c!, FAILED),
    ]);
    assert.deepEqual(results[0], { taskId: a!.task.id, state: 'succeeded' });
    assert.equal(results[1]?.taskId, b!.task.id);
    assert.equal(results[1]?.state, undefined);
    assert.equal(results[1]?.error?.code, 'lease_lost');
    assert.deepEqual(results[2], { taskId: c!.task.id, state: 'failed' });

    assert.deepEqual((await admin.getTask(a!.task.id)).outcome, OK);
    assert.equal((await admin.getTask(b!.task.id)).state, 'running');
    assert.deepEqual((await admin.getTask(c!.task.id)).outcome, FAILED);
    // The lost item's real lease still finishes, with the single body runners always sent.
    const { task } = await runnerA.finishAttempt(body(b!));
    assert.equal(task.state, 'succeeded');
  });

  it("refuses per item a token bound to another runner than the lease holder's", async () => {
    const [a] = await claimed(1);
    const { results } = await runnerB.finishAttempts([body(a!)]);
    assert.equal(results[0]?.error?.code, 'forbidden');
    assert.match(results[0].error.message, /held by runner 'a'/);
    assert.equal((await admin.getTask(a!.task.id)).state, 'running');
    const single = await runnerB.finishAttempt(body(a!)).catch((e: unknown) => e);
    assert.ok(single instanceof AppError && single.code === 'forbidden');
    const mine = await runnerA.finishAttempts([body(a!)]);
    assert.deepEqual(mine.results, [{ taskId: a!.task.id, state: 'succeeded' }]);
  });

  it('answers a repeated finish as stored, not as a lost lease', async () => {
    // A runner whose finish was stored but whose answer was lost sends the same body again.
    const [a, b] = await claimed(2);
    await runnerA.finishAttempts([body(a!), body(b!, FAILED)]);
    const again = await runnerA.finishAttempts([body(a!), body(b!, FAILED)]);
    assert.deepEqual(again.results, [
      { taskId: a!.task.id, state: 'succeeded' },
      { taskId: b!.task.id, state: 'failed' },
    ]);
    assert.equal((await runnerA.finishAttempt(body(a!))).task.state, 'succeeded');
    // Another outcome under the ended lease, or the same one from another runner, is refused.
    const other = await runnerA.finishAttempt(body(a!, FAILED)).catch((e: unknown) => e);
    assert.ok(other instanceof AppError && other.code === 'lease_lost');
    const stranger = await runnerB.finishAttempts([body(a!)]);
    assert.equal(stranger.results[0]?.error?.code, 'lease_lost');
    assert.deepEqual((await admin.getTask(a!.task.id)).outcome, OK, 'the first outcome stands');
  });

  it('refuses a malformed batch whole, naming the field, and stores nothing', async () => {
    const [a, b] = await claimed(2);
    const res = await fetch(`${server.url}/v1/runner/finish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        results: [body(a!), { taskId: b!.task.id, leaseToken: b!.leaseToken }],
      }),
    });
    assert.equal(res.status, 400);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'bad_request');
    assert.equal(error.message, "body.results.1: must have required property 'outcome'");
    assert.equal((await admin.getTask(a!.task.id)).state, 'running');
    assert.equal((await admin.getTask(b!.task.id)).state, 'running');

    const empty = await runnerA.finishAttempts([]).catch((e: unknown) => e);
    assert.ok(empty instanceof AppError && empty.code === 'bad_request');
    assert.match(empty.message, /body\.results: must NOT have fewer than 1 items/);
  });

  it('wakes a client waiting on a task finished in a batch', async () => {
    const [a] = await claimed(1);
    const waiting = admin.getTask(a!.task.id, { waitMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await runnerA.finishAttempts([body(a!)]);
    assert.equal((await waiting).state, 'succeeded');
  });
});
