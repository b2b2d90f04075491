// The SDK against the real server over loopback HTTP, and against a raw server that answers with
// HTML, garbage or nothing: every failure must surface as an AppError with the right code.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, type ErrorCode } from '../../src/protocol/errors.ts';
import { OutpostClient } from '../../src/sdk/client.ts';
import {
  startRawServer,
  startTestServer,
  type RawHandler,
  type TestServer,
} from '../helpers/server.ts';

const T = { timeout: 15_000 };

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected AppError '${code}', but the call succeeded`);
}

describe('OutpostClient against the real server', () => {
  let server: TestServer;
  let client: OutpostClient;

  before(async () => {
    server = await startTestServer();
    client = new OutpostClient({ baseUrl: `${server.url}/`, token: server.token });
  });
  after(() => server.close());

  it('answers health without needing a valid token', T, async () => {
    const anonymous = new OutpostClient({ baseUrl: server.url, token: 'nope' });
    assert.deepEqual(await anonymous.health(), { status: 'ok' });
  });

  it('creates, gets, lists and cancels a queued task', T, async () => {
    const created = await client.createTask({
      kind: 'shell',
      spec: { command: 'echo hi' },
      labels: ['sdk'],
    });
    assert.equal(created.state, 'queued');
    assert.equal((await client.getTask(created.id)).id, created.id);
    const { tasks } = await client.listTasks({ state: 'queued', kind: 'shell' });
    assert.ok(tasks.some((t) => t.id === created.id));
    const cancelled = await client.cancelTask(created.id);
    assert.equal(cancelled.state, 'cancelled');
  });

  it('returns the original task for a repeated idempotency key', T, async () => {
    const body = { kind: 'shell' as const, spec: { command: 'true' } };
    const first = await client.createTask(body, { idempotencyKey: 'sdk-key-1' });
    const again = await client.createTask(body, { idempotencyKey: 'sdk-key-1' });
    assert.equal(again.id, first.id);
    await client.cancelTask(first.id);
  });

  it('holds createTask and getTask for their wait when nothing runs the task', T, async () => {
    const started = Date.now();
    const task = await client.createTask(
      { kind: 'shell', spec: { command: 'true' } },
      { waitMs: 300 },
    );
    assert.equal(task.state, 'queued');
    await client.getTask(task.id, { waitMs: 300 });
    assert.ok(Date.now() - started >= 550, 'both calls waited');
    await client.cancelTask(task.id);
  });

  it('pages through tasks with a cursor', T, async () => {
    for (let i = 0; i < 3; i++)
      await client.createTask({ kind: 'file.list', spec: { path: `/tmp/${i}` } });
    const first = await client.listTasks({ kind: 'file.list', limit: 2 });
    assert.equal(first.tasks.length, 2);
    assert.ok(first.nextCursor);
    const second = await client.listTasks({
      kind: 'file.list',
      limit: 2,
      cursor: first.nextCursor,
    });
    assert.ok(second.tasks.length >= 1);
    assert.ok(!second.tasks.some((t) => first.tasks.some((f) => f.id === t.id)));
    for (const task of [...first.tasks, ...second.tasks]) await client.cancelTask(task.id);
  });

  it('waitForTask resolves with the outcome a runner reports through the SDK', T, async () => {
    const task = await client.createTask({
      kind: 'shell',
      spec: { command: 'echo done' },
      target: { runner: 'sdk-box' },
    });
    const waiting = client.waitForTask(task.id, { pollMs: 5_000 });
    waiting.catch(() => undefined);
    const hello = await client.hello({
      name: 'sdk-box',
      instanceId: 'i-1',
      capacity: 1,
      kinds: ['shell'],
      version: 'test',
    });
    assert.equal(hello.heartbeatMs, 300);
    const { tasks } = await client.claimTasks({
      runner: 'sdk-box',
      max: 1,
      waitMs: 2_000,
      kinds: ['shell'],
    });
    const claim = tasks[0];
    assert.ok(claim);
    const beat = await client.heartbeat({
      runner: 'sdk-box',
      leases: [{ taskId: task.id, leaseToken: claim.leaseToken }],
    });
    assert.deepEqual(beat.lost, []);
    const outcome = { status: 'succeeded' as const, exitCode: 0, stdout: 'done\n' };
    await client.finishAttempt({ taskId: task.id, leaseToken: claim.leaseToken, outcome });
    const done = await waiting;
    assert.equal(done.state, 'succeeded');
    assert.equal(done.outcome?.stdout, 'done\n');
  });

  it('surfaces a lost lease as lease_lost', T, async () => {
    const task = await client.createTask({
      kind: 'shell',
      spec: { command: 'true' },
      target: { runner: 'fence-box' },
    });
    const { tasks } = await client.claimTasks({
      runner: 'fence-box',
      max: 1,
      waitMs: 2_000,
      kinds: ['shell'],
    });
    assert.equal(tasks[0]?.task.id, task.id);
    const finishing = client.finishAttempt({
      taskId: task.id,
      leaseToken: 'not-the-lease',
      outcome: { status: 'succeeded' },
    });
    const err = await rejectsWith(finishing, 'lease_lost');
    assert.equal(err.status, 409);
  });

  it("maps the server's error codes to AppErrors", T, async () => {
    await rejectsWith(client.getTask('does-not-exist'), 'not_found');
    await rejectsWith(client.getTask('does-not-exist', { waitMs: 100 }), 'not_found');
    await rejectsWith(client.createTask({ kind: 'shell', spec: { nope: 1 } }), 'bad_request');
    const stranger = new OutpostClient({ baseUrl: server.url, token: 'wrong-token-0123456789' });
    await rejectsWith(stranger.listTasks(), 'unauthorized');
  });

  it('manages tokens, and a client token is forbidden on admin routes', T, async () => {
    const { token, secret } = await client.createToken({ name: 'sdk-client', role: 'client' });
    assert.equal(token.role, 'client');
    assert.ok((await client.listTokens()).tokens.some((t) => t.id === token.id));
    const scoped = new OutpostClient({ baseUrl: server.url, token: secret });
    await scoped.listTasks();
    await rejectsWith(scoped.listRunners(), 'forbidden');
    assert.deepEqual(await client.revokeToken(token.id), { revoked: true });
    await rejectsWith(scoped.listTasks(), 'unauthorized');
    await rejectsWith(client.revokeToken('no-such-token'), 'not_found');
  });

  it('reads runners and stats', T, async () => {
    await client.hello({
      name: 'stats-box',
      instanceId: 'i-2',
      capacity: 2,
      kinds: ['shell'],
      version: 'test',
    });
    const { runners } = await client.listRunners();
    assert.ok(runners.some((r) => r.name === 'stats-box' && r.online));
    const stats = await client.getStats();
    assert.equal(typeof stats.tasks.queued, 'number');
    assert.ok(stats.runners.total >= 1);
  });
});

describe('OutpostClient against a misbehaving server', () => {
  const withRaw = async (
    handler: RawHandler,
    call: (c: OutpostClient) => Promise<unknown>,
  ): Promise<AppError> => {
    const raw = await startRawServer(handler);
    try {
      const client = new OutpostClient({ baseUrl: raw.url, token: 't', requestTimeoutMs: 500 });
      return await rejectsWith(call(client), 'unavailable');
    } finally {
      await raw.close();
    }
  };
  const html =
    (status: number): RawHandler =>
    (_req, res) =>
      res
        .writeHead(status, { 'content-type': 'text/html' })
        .end('<html><body>Bad Gateway</body></html>');

  it('turns an HTML 502 page into unavailable', T, async () => {
    const err = await withRaw(html(502), (c) => c.getTask('x'));
    assert.deepEqual(err.details, { status: 502 });
  });

  it('turns an empty 500 into unavailable', T, async () => {
    await withRaw(
      (_req, res) => res.writeHead(500).end(),
      (c) => c.claimTasks({ runner: 'r', max: 1, waitMs: 0 }),
    );
  });

  it(
    "turns a well-formed 5xx error body into unavailable, keeping the server's message",
    T,
    async () => {
      const body = JSON.stringify({
        error: { code: 'internal', message: 'Internal server error' },
      });
      const err = await withRaw(
        (_req, res) => res.writeHead(500).end(body),
        (c) => c.health(),
      );
      assert.equal(err.message, 'Internal server error');
    },
  );

  it('turns a 200 that is not JSON into unavailable', T, async () => {
    await withRaw(html(200), (c) => c.listTasks());
  });

  it('turns a 200 JSON reply of the wrong shape into unavailable', T, async () => {
    await withRaw(
      (_req, res) => res.writeHead(200).end('{"tasks":[{"id":1}]}'),
      (c) => c.listTasks(),
    );
  });

  it('turns a dropped connection into unavailable', T, async () => {
    await withRaw(
      (req) => req.socket.destroy(),
      (c) => c.health(),
    );
  });

  it('turns a server that never answers into unavailable after the timeout', T, async () => {
    const started = Date.now();
    await withRaw(
      () => undefined,
      (c) => c.health(),
    );
    assert.ok(Date.now() - started < 5_000);
  });

  it('derives the code of a 4xx page without an error body from its status', T, async () => {
    const raw = await startRawServer(html(404));
    try {
      await rejectsWith(
        new OutpostClient({ baseUrl: raw.url, token: 't' }).getTask('x'),
        'not_found',
      );
    } finally {
      await raw.close();
    }
  });

  it('turns an unreachable server into unavailable', T, async () => {
    const raw = await startRawServer(html(200));
    await raw.close();
    await rejectsWith(new OutpostClient({ baseUrl: raw.url, token: 't' }).health(), 'unavailable');
  });

  it('rejects with the abort reason when the caller aborts a long poll', T, async () => {
    const raw = await startRawServer(() => undefined);
    try {
      const client = new OutpostClient({ baseUrl: raw.url, token: 't' });
      const controller = new AbortController();
      const claiming = client.claimTasks(
        { runner: 'r', max: 1, waitMs: 30_000 },
        { signal: controller.signal },
      );
      setTimeout(() => controller.abort(), 100);
      await assert.rejects(
        claiming,
        (err: unknown) => err instanceof Error && err.name === 'AbortError',
      );
    } finally {
      await raw.close();
    }
  });
});

describe('OutpostClient.appendOutput', () => {
  const body = {
    taskId: 't1',
    leaseToken: 'lease-1',
    chunks: [{ seq: 1, stream: 'stdout' as const, data: 'hi\n' }],
  };

  it('posts the chunks to /v1/runner/logs and returns storedThrough', T, async () => {
    let received: unknown;
    const raw = await startRawServer((_req, res, text) => {
      received = JSON.parse(text);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"storedThrough":1}');
    });
    try {
      const client = new OutpostClient({ baseUrl: raw.url, token: 't' });
      assert.deepEqual(await client.appendOutput(body), { storedThrough: 1 });
      assert.deepEqual(raw.requests, ['POST /v1/runner/logs']);
      assert.deepEqual(received, body);
    } finally {
      await raw.close();
    }
  });

  it('turns a reply without storedThrough into unavailable', T, async () => {
    const raw = await startRawServer((_req, res) => res.writeHead(200).end('{"stored":1}'));
    try {
      const client = new OutpostClient({ baseUrl: raw.url, token: 't' });
      await rejectsWith(client.appendOutput(body), 'unavailable');
    } finally {
      await raw.close();
    }
  });

  it('surfaces a 409 lease_lost as lease_lost', T, async () => {
    const lost = JSON.stringify({ error: { code: 'lease_lost', message: 'lease gone' } });
    const raw = await startRawServer((_req, res) => res.writeHead(409).end(lost));
    try {
      const client = new OutpostClient({ baseUrl: raw.url, token: 't' });
      await rejectsWith(client.appendOutput(body), 'lease_lost');
    } finally {
      await raw.close();
    }
  });
});
