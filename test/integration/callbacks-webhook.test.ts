// Webhook callbacks and the checks at create: a real server signs what it posts (verified here
// with the recipe docs/api.md gives), retries, shows a final failure on the task and in the log,
// and refuses at create a callback that could never be delivered, storing nothing.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { OutpostClient } from '../../src/sdk/client.ts';
import { AppError } from '../../src/protocol/errors.ts';
import type { Event } from '../../src/protocol/events.ts';
import type { Outcome } from '../../src/protocol/tasks.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import {
  startMockDiscord,
  type MockDiscord,
  type RecordedRequest,
} from '../helpers/mock-discord.ts';
import { callbacksSettled, finishTask, untilTask } from '../helpers/finish-task.ts';

const T = { timeout: 20_000 };
const SERVER_SECRET = 'server-webhook-secret-0123456789';
const TASK_SECRET = 'task-webhook-secret-abcdefghij';

/** The receiver's check, exactly as docs/api.md describes it. */
function verify(req: RecordedRequest, secret: string, now = Date.now()): boolean {
  const timestamp = String(req.headers['x-outpost-timestamp']);
  const signature = String(req.headers['x-outpost-signature']);
  if (Math.abs(now - Number(timestamp)) > 5 * 60_000) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${req.body}`).digest('hex')}`;
  return (
    signature.length === expected.length &&
    timingSafeEqual(Buffer.from(signature), Buffer.from(expected))
  );
}

describe('webhook callbacks', () => {
  let server: TestServer;
  let hook: MockDiscord;
  let client: OutpostClient;

  before(async () => {
    hook = await startMockDiscord();
    server = await startTestServer({
      webhookSecret: SERVER_SECRET,
      callbackRetryBaseMs: 20,
      callbackRetryMaxMs: 100,
      callbackMaxAttempts: 3,
    });
    client = new OutpostClient({ baseUrl: server.url, token: server.token });
  });
  after(async () => {
    await server.close();
    await hook.close();
  });
  beforeEach(() => hook.reset());

  const outcome: Outcome = {
    status: 'succeeded',
    exitCode: 0,
    stdout: 'all good\n',
    durationMs: 12,
    metadata: { sessionId: 'sess-1234567890' },
  };

  it('posts a signed JSON body that verifies with the documented recipe', T, async () => {
    const webhook = { url: `${hook.origin}/hook?source=outpost` };
    const body = { kind: 'shell' as const, spec: { command: 'x' }, callback: { webhook } };
    const task = await finishTask(client, body, outcome);
    const done = await untilTask(client, task.id, callbacksSettled);
    assert.deepEqual(done.callbacks, [
      {
        kind: 'webhook',
        target: `${hook.origin}/…`,
        state: 'sent',
        attempts: 1,
        sentAt: done.callbacks?.[0]?.sentAt,
      },
    ]);
    const [req] = hook.requests;
    assert.equal(req?.path, '/hook?source=outpost');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-outpost-task-id'], task.id);
    assert.ok(verify(req, SERVER_SECRET), 'signature verifies');
    assert.ok(!verify({ ...req, body: req.body.replace('all good', 'all bad') }, SERVER_SECRET));
    assert.ok(!verify(req, SERVER_SECRET, Date.now() + 10 * 60_000), 'an old timestamp is refused');
    assert.deepEqual(JSON.parse(req.body), {
      taskId: task.id,
      kind: 'shell',
      state: 'succeeded',
      finishedAt: done.finishedAt,
      text: 'all good\n',
      outcome: { status: 'succeeded', exitCode: 0, durationMs: 12, sessionId: 'sess-1234567890' },
    });
  });

  it('signs with the task’s own secret when it brings one', T, async () => {
    const webhook = { url: `${hook.origin}/own`, secret: TASK_SECRET };
    const body = { kind: 'shell' as const, spec: { command: 'x' }, callback: { webhook } };
    const task = await finishTask(client, body, outcome);
    await untilTask(client, task.id, callbacksSettled);
    assert.ok(verify(hook.requests[0]!, TASK_SECRET));
    assert.ok(!verify(hook.requests[0]!, SERVER_SECRET));
  });

  it('retries, then shows the final failure on the task and in the event log', T, async () => {
    hook.queue({ status: 500 }, { status: 502 }, { status: 500, body: { message: 'still down' } });
    const webhook = { url: `${hook.origin}/down` };
    const body = { kind: 'shell' as const, spec: { command: 'x' }, callback: { webhook } };
    const task = await finishTask(client, body, outcome);
    const done = await untilTask(client, task.id, callbacksSettled);
    assert.deepEqual(done.callbacks?.[0], {
      kind: 'webhook',
      target: `${hook.origin}/…`,
      state: 'failed',
      attempts: 3,
      lastError: 'webhook answered 500: still down',
    });
    assert.equal(hook.requests.length, 3);
    const headers = { authorization: `Bearer ${server.token}` };
    const res = await fetch(`${server.url}/v1/events?taskId=${task.id}`, { headers });
    const log = ((await res.json()) as { events: Event[] }).events;
    const failed = log.filter((e) => e.type === 'callback.failed');
    assert.deepEqual(
      failed.map((e) => e.data),
      [
        {
          kind: 'webhook',
          target: `${hook.origin}/…`,
          attempts: 3,
          error: 'webhook answered 500: still down',
        },
      ],
    );
  });

  it('does not follow a redirect', T, async () => {
    hook.queue({ status: 302, headers: { location: `${hook.origin}/elsewhere` } });
    const webhook = { url: `${hook.origin}/moved` };
    const body = { kind: 'shell' as const, spec: { command: 'x' }, callback: { webhook } };
    const task = await finishTask(client, body, outcome);
    const done = await untilTask(client, task.id, callbacksSettled);
    assert.equal(
      done.callbacks?.[0]?.lastError,
      'webhook answered 302 (redirects are not followed)',
    );
    assert.deepEqual(
      hook.requests.map((r) => r.path),
      ['/moved'],
    );
  });

  it('retries a receiver that cannot be reached, naming the network error', T, async () => {
    const gone = await startMockDiscord();
    await gone.close();
    const webhook = { url: `${gone.origin}/closed` };
    const body = { kind: 'shell' as const, spec: { command: 'x' }, callback: { webhook } };
    const task = await finishTask(client, body, outcome);
    const done = await untilTask(client, task.id, callbacksSettled);
    assert.deepEqual(
      [done.callbacks?.[0]?.state, done.callbacks?.[0]?.attempts, done.callbacks?.[0]?.lastError],
      ['failed', 3, 'webhook: network error (ECONNREFUSED)'],
    );
  });
});

describe('callbacks refused at create', () => {
  let server: TestServer;
  let client: OutpostClient;
  before(async () => {
    server = await startTestServer();
    client = new OutpostClient({ baseUrl: server.url, token: server.token });
  });
  after(() => server.close());

  /** Creating `callback` fails with a bad_request whose message matches `message`; nothing is stored. */
  async function refused(callback: unknown, message: RegExp): Promise<void> {
    const before = (await client.listTasks()).tasks.length;
    const create = client.createTask({ kind: 'shell', spec: { command: 'x' }, callback } as never);
    await assert.rejects(create, (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'bad_request');
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /hunter2-secret/);
      return true;
    });
    assert.equal((await client.listTasks()).tasks.length, before, 'nothing stored');
  }

  it('refuses a discord callback with no token in the task and none configured', async () => {
    await refused(
      { discord: { channel: '123' } },
      /callback\.discord\.botToken: is required.*CALLBACK_BOT_TOKEN/,
    );
  });

  it('refuses a webhook with no secret in the task and none configured', async () => {
    await refused(
      { webhook: { url: 'https://example.com/hook' } },
      /callback\.webhook\.secret: is required.*OUTPOST_WEBHOOK_SECRET/,
    );
  });

  it('refuses a malformed channel, URL or token, naming the field', async () => {
    await refused(
      { discord: { channel: 'general', botToken: 'hunter2-secret' } },
      /callback\.discord\.channel/,
    );
    await refused(
      { webhook: { url: 'https://user:pw@example.com/', secret: 'hunter2-secret-xxxxx' } },
      /callback\.webhook\.url: must be an http or https URL without credentials/,
    );
    await refused(
      { discord: { channel: '1', botToken: 'hunter2-secret with space' } },
      /callback\.discord\.botToken: must be visible ASCII/,
    );
    await refused({ discord: { channel: '1', extra: true } }, /callback\.discord\.extra/);
  });

  it('takes the legacy routes’ callback fields through the task service as they come', async () => {
    const { task } = await server.app.tasks.createTask(
      {
        kind: 'shell',
        spec: { command: 'x' },
        callback: { discord: { channel: '4242', botToken: 'legacy-bot-token' } },
      },
      { origin: 'legacy' },
    );
    const read = await client.getTask(task.id);
    assert.deepEqual(read.callbacks, [
      { kind: 'discord', target: '4242', state: 'waiting', attempts: 0, sentParts: 0 },
    ]);
    await assert.rejects(
      server.app.tasks.createTask(
        {
          kind: 'shell',
          spec: { command: 'x' },
          callback: { discord: { channel: '4242', botToken: undefined } },
        },
        { origin: 'legacy' },
      ),
      /callback\.discord\.botToken: is required/,
    );
  });
});
