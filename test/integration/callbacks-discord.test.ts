// Discord callbacks end to end: a real server posts a finished task's answer to a mock
// Discord-compatible API on loopback — split into ordered messages with balanced code fences and
// mentions disabled, 429 retry_after honoured, 5xx retried, 4xx failed with a short notice.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutpostClient } from '../../src/sdk/client.ts';
import { loadRunnerConfig } from '../../src/runner/config.ts';
import { createRunner } from '../../src/runner/create-runner.ts';
import { nodeTransport } from '../../src/runner/node-transport.ts';
import { fenceAfter, splitMessage } from '../../src/server/callbacks/split-message.ts';
import { createApp } from '../../src/server/create-app.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Outcome, Task } from '../../src/protocol/tasks.ts';
import type { Event } from '../../src/protocol/events.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ADMIN_TOKEN, testAppOptions } from '../helpers/app.ts';
import { startMockDiscord, type MockDiscord } from '../helpers/mock-discord.ts';
import { callbacksSettled, finishTask, untilTask } from '../helpers/finish-task.ts';

const T = { timeout: 20_000 };
const SERVER_BOT_TOKEN = 'server-bot-token.0123456789';
const CHANNEL = '112233445566778899';

/** A 5,000-character answer with a TypeScript block that spans the first two messages. */
function longAnswer(): string {
  const code = Array.from({ length: 70 }, (_, i) => `const line${i} = 'x'.repeat(${i});`);
  const prose = Array.from({ length: 40 }, (_, i) => `Point ${i}: @everyone look at this.`);
  const text = ['Here is the fix:', '```ts', ...code, '```', ...prose].join('\n');
  return `${text}\n${'z'.repeat(5_000 - text.length - 1)}`;
}

const openFenceAtEnd = (part: string) =>
  part.split('\n').reduce<ReturnType<typeof fenceAfter>>(fenceAfter, undefined);

describe('discord callbacks', () => {
  let server: TestServer;
  let discord: MockDiscord;
  let client: OutpostClient;

  before(async () => {
    discord = await startMockDiscord();
    server = await startTestServer({
      callbackApiBaseUrl: discord.apiBaseUrl,
      callbackBotToken: SERVER_BOT_TOKEN,
      callbackRetryBaseMs: 40,
      callbackRetryMaxMs: 200,
      callbackMaxAttempts: 3,
    });
    client = new OutpostClient({ baseUrl: server.url, token: server.token });
  });
  after(async () => {
    await server.close();
    await discord.close();
  });
  beforeEach(() => discord.reset());

  const callback = { discord: { channel: CHANNEL } };
  const succeeded = (stdout: string): Outcome => ({ status: 'succeeded', exitCode: 0, stdout });
  const events = async (taskId: string): Promise<Event[]> => {
    const headers = { authorization: `Bearer ${server.token}` };
    const res = await fetch(`${server.url}/v1/events?taskId=${taskId}`, { headers });
    return ((await res.json()) as { events: Event[] }).events;
  };

  it('posts a 5,000-character answer from a real runner as three ordered messages', T, async () => {
    const root = await mkdtemp(join(tmpdir(), 'outpost-cb-'));
    const dataDir = await mkdtemp(join(tmpdir(), 'outpost-cb-data-'));
    const answer = longAnswer();
    await writeFile(join(root, 'answer.md'), answer);
    const config = loadRunnerConfig(
      {},
      {
        flags: {
          serverUrl: server.url,
          token: server.token,
          name: 'cb-runner',
          roots: [root],
          dataDir,
          longPollMs: 2_000,
        },
      },
    );
    const runner = createRunner({
      client: new OutpostClient({ baseUrl: server.url, token: server.token, fetch: nodeTransport }),
      config,
      log: () => {},
    });
    await runner.start();
    try {
      const task = await client.createTask({
        kind: 'shell',
        spec: { command: ['cat', join(root, 'answer.md')] },
        target: { runner: 'cb-runner' },
        callback,
      });
      const done = await untilTask(client, task.id, callbacksSettled);
      assert.equal(done.state, 'succeeded', JSON.stringify(done.outcome));
      assert.deepEqual(done.callbacks, [
        {
          kind: 'discord',
          target: CHANNEL,
          state: 'sent',
          attempts: 1,
          sentParts: 3,
          parts: 3,
          sentAt: done.callbacks?.[0]?.sentAt,
        },
      ]);
    } finally {
      await runner.stop();
      await rm(root, { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
    }
    const messages = discord.messages();
    assert.equal(messages.length, 3);
    for (const m of messages) {
      assert.equal(m.channel, CHANNEL);
      assert.equal(m.authorization, `Bot ${SERVER_BOT_TOKEN}`);
      assert.deepEqual(m.allowedMentions, { parse: [] });
      assert.ok(m.content.length <= 2000, `${m.content.length} characters`);
      assert.equal(openFenceAtEnd(m.content), undefined, 'fences balanced in each message');
    }
    assert.ok(messages[0]!.content.startsWith('Here is the fix:\n```ts\n'));
    assert.ok(messages[0]!.content.endsWith('\n```'));
    assert.ok(messages[1]!.content.startsWith('```ts\n'));
    const withoutFences = (text: string) =>
      text
        .split('\n')
        .filter((l) => !l.startsWith('```'))
        .join('');
    assert.equal(messages.map((m) => withoutFences(m.content)).join(''), withoutFences(answer));
  });

  it('waits retry_after after a 429 and does not count it as an attempt', T, async () => {
    discord.queue({
      status: 429,
      body: { message: 'You are being rate limited.', retry_after: 0.4 },
    });
    const task = await finishTask(
      client,
      { kind: 'shell', spec: { command: 'x' }, callback },
      succeeded('hi\n'),
    );
    const done = await untilTask(client, task.id, callbacksSettled);
    const [limited, posted] = discord.requests;
    assert.ok(posted!.at - limited!.at >= 400, `waited ${posted!.at - limited!.at} ms`);
    assert.deepEqual(
      discord.messages().map((m) => m.content),
      ['hi\n'],
    );
    assert.deepEqual([done.callbacks?.[0]?.state, done.callbacks?.[0]?.attempts], ['sent', 1]);
  });

  it('honours a Retry-After header when the body has no retry_after', T, async () => {
    discord.queue({ status: 429, body: {}, headers: { 'retry-after': '1' } });
    const task = await finishTask(
      client,
      { kind: 'shell', spec: { command: 'x' }, callback },
      succeeded('ok'),
    );
    await untilTask(client, task.id, callbacksSettled);
    const [limited, posted] = discord.requests;
    assert.ok(posted!.at - limited!.at >= 1000, `waited ${posted!.at - limited!.at} ms`);
  });

  it('retries 5xx answers with backoff, logging each attempt', T, async () => {
    discord.queue({ status: 500 }, { status: 502, body: { message: 'Bad Gateway' } });
    const task = await finishTask(
      client,
      { kind: 'shell', spec: { command: 'x' }, callback },
      succeeded('ok'),
    );
    const done = await untilTask(client, task.id, callbacksSettled);
    assert.deepEqual([done.callbacks?.[0]?.state, done.callbacks?.[0]?.attempts], ['sent', 3]);
    assert.equal(discord.requests.length, 3);
    const log = await events(task.id);
    const dispatched = log.filter((e) => e.type === 'callback.dispatched');
    assert.deepEqual(
      dispatched.map((e) => [e.data?.attempt, e.data?.previousError]),
      [
        [1, undefined],
        [2, 'Discord API answered 500'],
        [3, 'Discord API answered 502: Bad Gateway'],
      ],
    );
    const sent = log.find((e) => e.type === 'callback.sent');
    assert.deepEqual(sent?.data, {
      kind: 'discord',
      target: CHANNEL,
      parts: 1,
      sentParts: 1,
      attempts: 3,
    });
  });

  it('fails at once on a 4xx, posts one short notice, and shows the failure', T, async () => {
    discord.queue({ status: 400, body: { message: 'Invalid Form Body', code: 50035 } });
    const outcome: Outcome = {
      ...succeeded('answer'),
      metadata: { sessionId: 'abcdef12-3456-7890-abcd-ef1234567890' },
    };
    const task = await finishTask(
      client,
      { kind: 'shell', spec: { command: 'x' }, callback },
      outcome,
    );
    const done = await untilTask(client, task.id, callbacksSettled);
    assert.deepEqual(done.callbacks?.[0], {
      kind: 'discord',
      target: CHANNEL,
      state: 'failed',
      attempts: 1,
      sentParts: 0,
      parts: 1,
      lastError: 'Discord API answered 400: Invalid Form Body',
    });
    const [notice] = discord.messages();
    assert.match(
      notice!.content,
      /could not be posted: Discord API answered 400: Invalid Form Body/,
    );
    assert.match(notice!.content, /Session: `abcdef12`/);
    const failed = (await events(task.id)).find((e) => e.type === 'callback.failed');
    assert.equal(failed?.data?.error, 'Discord API answered 400: Invalid Form Body');
    assert.equal(failed?.data?.notice, 'sent');
  });

  it('sends no notice after a 403 (it would fail the same way)', T, async () => {
    discord.queue({ status: 403, body: { message: 'Missing Access' } });
    const task = await finishTask(
      client,
      { kind: 'shell', spec: { command: 'x' }, callback },
      succeeded('a'),
    );
    await untilTask(client, task.id, callbacksSettled);
    assert.equal(discord.requests.length, 1);
    const failed = (await events(task.id)).find((e) => e.type === 'callback.failed');
    assert.equal(failed?.data?.notice, 'skipped');
  });

  it('gives up after the last attempt of 5xx answers', T, async () => {
    discord.queue({ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 });
    const task = await finishTask(
      client,
      { kind: 'shell', spec: { command: 'x' }, callback },
      succeeded('a'),
    );
    const done = await untilTask(client, task.id, callbacksSettled);
    assert.deepEqual(
      [done.callbacks?.[0]?.state, done.callbacks?.[0]?.attempts, done.callbacks?.[0]?.lastError],
      ['failed', 3, 'Discord API answered 503'],
    );
    assert.equal(discord.requests.length, 4, 'three attempts and one notice');
  });

  it('tells the channel a failed agent turn: the error and a short session id', T, async () => {
    const outcome: Outcome = {
      status: 'failed',
      error: { kind: 'agent', message: 'model overloaded', retryable: false },
      output: {
        agent: 'claude',
        text: '',
        sessionId: '0f9e8d7c-aaaa-bbbb-cccc-ddddeeeeffff',
        resumed: false,
      },
    };
    const body = { kind: 'agent' as const, spec: { agent: 'claude', prompt: 'hi' }, callback };
    const task = await finishTask(client, body, outcome);
    await untilTask(client, task.id, callbacksSettled);
    assert.deepEqual(
      discord.messages().map((m) => m.content),
      ['⚠️ Task failed: model overloaded\nSession: `0f9e8d7c`'],
    );
  });

  it('posts the agent’s final text, not its raw output', T, async () => {
    const outcome: Outcome = {
      status: 'succeeded',
      stdout: 'ignored',
      output: { agent: 'codex', text: 'Final answer', resumed: true },
    };
    const body = { kind: 'agent' as const, spec: { agent: 'codex', prompt: 'q' }, callback };
    const task = await finishTask(client, body, outcome);
    await untilTask(client, task.id, callbacksSettled);
    assert.deepEqual(
      discord.messages().map((m) => m.content),
      ['Final answer'],
    );
  });

  it('reports a task cancelled before it started', T, async () => {
    const task = await client.createTask({
      kind: 'shell',
      spec: { command: 'x' },
      target: { runner: 'nobody' },
      callback,
    });
    await client.cancelTask(task.id);
    await untilTask(client, task.id, callbacksSettled);
    assert.deepEqual(
      discord.messages().map((m) => m.content),
      ['⚠️ Task was cancelled: Cancelled before it started'],
    );
  });

  it('uses a task’s own bot token over the server’s', T, async () => {
    const own = { discord: { channel: CHANNEL, botToken: 'task-own-token.abc' } };
    const task = await finishTask(
      client,
      { kind: 'shell', spec: { command: 'x' }, callback: own },
      succeeded('a'),
    );
    await untilTask(client, task.id, callbacksSettled);
    assert.equal(discord.messages()[0]?.authorization, 'Bot task-own-token.abc');
  });
});

describe('discord callbacks when a lease expires', () => {
  it('posts when the task ends lost', T, async () => {
    const discord = await startMockDiscord();
    const server = await startTestServer({
      leaseMs: 300,
      heartbeatMs: 100,
      reapIntervalMs: 50,
      callbackApiBaseUrl: discord.apiBaseUrl,
      callbackBotToken: SERVER_BOT_TOKEN,
    });
    try {
      const client = new OutpostClient({ baseUrl: server.url, token: server.token });
      const task = await client.createTask({
        kind: 'shell',
        spec: { command: 'x' },
        target: { runner: 'vanishing' },
        callback: { discord: { channel: CHANNEL } },
      });
      const [claim] = (await client.claimTasks({ runner: 'vanishing', max: 1 })).tasks;
      await client.heartbeat({
        runner: 'vanishing',
        leases: [{ taskId: task.id, leaseToken: claim!.leaseToken }],
      });
      const done: Task = await untilTask(client, task.id, callbacksSettled);
      assert.equal(done.state, 'lost');
      assert.match(discord.messages()[0]?.content ?? '', /^⚠️ Task was lost: Lease expired/);
    } finally {
      await server.close();
      await discord.close();
    }
  });
});

describe('discord callbacks across a server restart', () => {
  it('resumes after the parts already posted, never posting one twice', T, async () => {
    const discord = await startMockDiscord();
    const dir = await mkdtemp(join(tmpdir(), 'outpost-restart-'));
    const options = {
      ...testAppOptions(),
      callbackApiBaseUrl: discord.apiBaseUrl,
      callbackBotToken: SERVER_BOT_TOKEN,
    };
    const start = async () => {
      const store = openSqliteStore(join(dir, 'outpost.db'));
      const app = await createApp({ store, options });
      const url = (await app.listen({ host: '127.0.0.1', port: 0 })).replace(/\/$/, '');
      const client = new OutpostClient({ baseUrl: url, token: ADMIN_TOKEN });
      return { client, close: async () => (await app.close(), await store.close()) };
    };
    try {
      // The first part is posted; the second is held until the server goes away mid-request.
      discord.queue({ status: 200, body: { id: '1' } }, { hold: true });
      const first = await start();
      const answer = longAnswer();
      const outcome: Outcome = { status: 'succeeded', exitCode: 0, stdout: answer };
      const body = {
        kind: 'shell' as const,
        spec: { command: 'x' },
        callback: { discord: { channel: CHANNEL } },
      };
      const task = await finishTask(first.client, body, outcome);
      await discord.waitForRequests(2);
      const midway = await first.client.getTask(task.id);
      assert.deepEqual(
        [midway.callbacks?.[0]?.state, midway.callbacks?.[0]?.sentParts],
        ['sending', 1],
      );
      await first.close();

      const second = await start();
      try {
        const done = await untilTask(second.client, task.id, callbacksSettled);
        assert.deepEqual([done.callbacks?.[0]?.state, done.callbacks?.[0]?.sentParts], ['sent', 3]);
      } finally {
        await second.close();
      }
      const expected = splitMessage(answer);
      assert.deepEqual(
        discord.messages().map((m) => m.content),
        expected,
        'each part once, in order',
      );
      assert.equal(
        discord.requests.length,
        4,
        'part 2 was sent again only because it never got an answer',
      );
      const dispatched = (await eventsIn(dir)).filter((t) => t === 'callback.dispatched');
      assert.equal(dispatched.length, 1, 'one attempt, resumed');
    } finally {
      await discord.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The event types of the database in `dir`, oldest first. */
async function eventsIn(dir: string): Promise<string[]> {
  const store = openSqliteStore(join(dir, 'outpost.db'));
  try {
    return (await store.listEvents({ limit: 1000 })).map((e) => e.type);
  } finally {
    await store.close();
  }
}
