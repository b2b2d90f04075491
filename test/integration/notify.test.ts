// The legacy `POST /notify` against a mock Discord-compatible API: the old request and replies,
// the message split and sent with mentions disabled, and upstream failures as 502 without the token.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, tokenHeaders, type TestApp } from '../helpers/app.ts';
import { startMockDiscord, type MockDiscord } from '../helpers/mock-discord.ts';

const BOT_TOKEN = 'notify-bot-token.0123456789';

describe('POST /notify', () => {
  let t: TestApp;
  let discord: MockDiscord;
  let client: Record<string, string>;
  before(async () => {
    discord = await startMockDiscord();
    t = await buildTestApp({ callbackApiBaseUrl: discord.apiBaseUrl, callbackBotToken: BOT_TOKEN });
    client = await tokenHeaders(t, 'client');
  });
  after(async () => {
    await t.close();
    await discord.close();
  });
  beforeEach(() => discord.reset());

  const notify = (payload: unknown, headers = client) =>
    t.app.inject({ method: 'POST', url: '/notify', headers, payload: payload as object });

  it('posts the message to the channel with mentions disabled and answers {ok:true}', async () => {
    const res = await notify({ channel: '987654321', message: 'Deploy done @everyone' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { ok: true });
    const [m] = discord.messages();
    assert.deepEqual(m, {
      channel: '987654321',
      content: 'Deploy done @everyone',
      allowedMentions: { parse: [] },
      authorization: `Bot ${BOT_TOKEN}`,
      at: m?.at,
    });
  });

  it('splits a long message into ordered parts', async () => {
    const message = Array.from({ length: 100 }, (_, i) => `line ${i} `.padEnd(50, '-')).join('\n');
    assert.equal((await notify({ channel: '1', message })).statusCode, 200);
    const parts = discord.messages().map((m) => m.content);
    assert.equal(parts.length, 3);
    assert.equal(parts.join('\n'), message);
  });

  it('sits out a short 429 and then posts', async () => {
    discord.queue({ status: 429, body: { retry_after: 0.2 } });
    const res = await notify({ channel: '1', message: 'hi' });
    assert.equal(res.statusCode, 200);
    const [limited, posted] = discord.requests;
    assert.ok(posted!.at - limited!.at >= 200);
  });

  it('answers 400 with the old message when a field is missing', async () => {
    for (const body of [{}, { channel: '1' }, { message: 'x' }, { channel: ' ', message: 'x' }]) {
      const res = await notify(body);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { error: 'channel and message are required' });
    }
    const res = await notify({ channel: '../users/@me', message: 'x' });
    assert.deepEqual(
      [res.statusCode, res.json()],
      [400, { error: 'channel must be a channel id (digits only)' }],
    );
    assert.equal(discord.requests.length, 0);
  });

  it('answers 502 with the upstream status, never the token', async () => {
    discord.queue({ status: 403, body: { message: 'Missing Access', code: 50001 } });
    const res = await notify({ channel: '1', message: 'x' });
    assert.equal(res.statusCode, 502);
    assert.deepEqual(res.json(), { error: 'Discord API answered 403: Missing Access' });
    assert.doesNotMatch(res.body, /notify-bot-token/);
  });

  it('needs a client token', async () => {
    const res = await notify({ channel: '1', message: 'x' }, {});
    assert.deepEqual([res.statusCode, res.json()], [401, { error: 'Unauthorized' }]);
  });
});

describe('POST /notify without a bot token', () => {
  it('answers 500 with {error}', async () => {
    const t = await buildTestApp();
    try {
      const res = await t.app.inject({
        method: 'POST',
        url: '/notify',
        headers: t.admin,
        payload: { channel: '1', message: 'x' },
      });
      assert.equal(res.statusCode, 500);
      assert.deepEqual(res.json(), {
        error: 'No bot token configured: set CALLBACK_BOT_TOKEN on the server',
      });
    } finally {
      await t.close();
    }
  });
});
