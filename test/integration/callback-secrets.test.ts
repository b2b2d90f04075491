// Bot tokens and webhook secrets go in and never come out: not in a create reply, a task read, a
// list, a runner's claim or legacy poll, the event logs or stats; and the database forgets a
// task's own secret once its callback has been delivered.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { OutpostClient } from '../../src/sdk/client.ts';
import type { Task } from '../../src/protocol/tasks.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startMockDiscord, type MockDiscord } from '../helpers/mock-discord.ts';
import { callbacksSettled, untilTask } from '../helpers/finish-task.ts';
import { assertNoSecrets, readEverything, type Read } from '../helpers/api-reads.ts';

const SERVER_TOKEN = 'SERVER-bot-token.0123456789';
const SERVER_SECRET = 'SERVER-webhook-secret-0123456789';
const TASK_TOKEN = 'TASK-bot-token.abcdefghij';
const LEGACY_TOKEN = 'LEGACY-bot-token.klmnopqrst';
const TASK_SECRET = 'TASK-webhook-secret-uvwxyz0123';
const URL_SECRET = 'URL-path-secret-4567890';
const SECRETS = [SERVER_TOKEN, SERVER_SECRET, TASK_TOKEN, LEGACY_TOKEN, TASK_SECRET, URL_SECRET];

describe('callback secrets never come out', { timeout: 30_000 }, () => {
  let server: TestServer;
  let discord: MockDiscord;
  const captured: Read[] = [];
  const ids: string[] = [];

  before(async () => {
    discord = await startMockDiscord();
    server = await startTestServer({
      callbackApiBaseUrl: discord.apiBaseUrl,
      callbackBotToken: SERVER_TOKEN,
      webhookSecret: SERVER_SECRET,
      callbackRetryBaseMs: 20,
      callbackRetryMaxMs: 50,
      callbackMaxAttempts: 2,
    });
  });
  after(async () => {
    await server.close();
    await discord.close();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    captured.push({ what: `${method} ${path} → ${res.status}`, body: text });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };

  it('keeps them out of every read, a claim and a legacy poll included', async () => {
    // A failure first (retried, then a 403 for good) so error paths are read back too.
    discord.queue({ status: 500 }, { status: 403, body: { message: 'Missing Access' } });
    const callback = {
      discord: { channel: '555', botToken: TASK_TOKEN },
      webhook: { url: `${discord.origin}/hook/${URL_SECRET}?k=${URL_SECRET}`, secret: TASK_SECRET },
    };
    const v1 = await call('POST', '/v1/tasks', {
      kind: 'shell',
      spec: { command: 'echo v1' },
      target: { runner: 'r-v1' },
      callback,
    });
    ids.push(String(v1.id));
    // Read while the secret is stored (it is forgotten once delivery ends).
    captured.push(...(await readEverything(server.url, server.token, ids, { ended: false })));
    const claim = await call('POST', '/v1/runner/claim', { runner: 'r-v1', max: 1 });
    const [c] = claim.tasks as { task: Task; leaseToken: string }[];
    const outcome = { status: 'succeeded', exitCode: 0, stdout: 'v1\n' };
    await call('POST', '/v1/runner/finish', { taskId: v1.id, leaseToken: c!.leaseToken, outcome });

    // As the legacy `POST /claude` route creates tasks: the old fields passed straight through.
    const { task: legacy } = await server.app.tasks.createTask(
      {
        kind: 'shell',
        spec: { command: 'echo legacy' },
        callback: { discord: { channel: '666', botToken: LEGACY_TOKEN } },
      },
      { origin: 'legacy' },
    );
    ids.push(legacy.id);
    captured.push(
      ...(await readEverything(server.url, server.token, [legacy.id], { ended: false })),
    );
    const polled = await call('GET', '/worker/poll?wait=1000');
    assert.equal(polled.id, legacy.id);
    await call('POST', '/worker/result', { taskId: legacy.id, stdout: 'legacy\n', exitCode: 0 });

    const server1 = await call('POST', '/v1/tasks', {
      kind: 'shell',
      spec: { command: 'echo server' },
      target: { runner: 'nobody' },
      callback: { discord: { channel: '777' }, webhook: { url: `${discord.origin}/plain` } },
    });
    ids.push(String(server1.id));
    await call('POST', `/v1/tasks/${String(server1.id)}/cancel`);

    const client = new OutpostClient({ baseUrl: server.url, token: server.token });
    const settled = await Promise.all(ids.map((id) => untilTask(client, id, callbacksSettled)));
    const states = settled.flatMap((t) => (t.callbacks ?? []).map((cb) => cb.state));
    assert.ok(states.includes('failed') && states.includes('sent'), states.join());

    assertNoSecrets(
      [...captured, ...(await readEverything(server.url, server.token, ids))],
      SECRETS,
    );
    // The receivers did get them, where they belong: the Authorization header, the URL.
    const auth = discord.requests.map((r) => r.headers.authorization);
    assert.ok(auth.includes(`Bot ${TASK_TOKEN}`) && auth.includes(`Bot ${SERVER_TOKEN}`));
    for (const r of discord.requests) assertNoSecrets([{ what: r.path, body: r.body }], SECRETS);
  });

  it('forgets a task’s own secrets once delivery has ended', () => {
    const db = new Database(join(server.dir, 'outpost.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT state, secret FROM callbacks').all() as {
        state: string;
        secret: string | null;
      }[];
      assert.ok(rows.length >= 5);
      for (const row of rows)
        assert.deepEqual(row.secret, null, `a ${row.state} row kept its secret`);
    } finally {
      db.close();
    }
  });
});
