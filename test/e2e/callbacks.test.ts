// End to end: `outpost serve` configured through the legacy variables (DISCORD_BOT_TOKEN,
// DISCORD_API_BASE_URL) and `outpost runner` as real processes. Answers reach a mock Discord API
// and a webhook; no bot token or webhook secret shows in any read, or in either process's log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutpostClient } from '../../src/sdk/client.ts';
import { cleanEnv, startDaemon, type Daemon } from '../helpers/processes.ts';
import { startMockDiscord, type MockDiscord } from '../helpers/mock-discord.ts';
import { callbacksSettled, untilTask } from '../helpers/finish-task.ts';
import { assertNoSecrets, readEverything } from '../helpers/api-reads.ts';

const TOKEN = 'e2e-callbacks-token-0123456789';
const SERVER_BOT_TOKEN = 'E2E-SERVER-BOT-TOKEN.abcdef';
const TASK_BOT_TOKEN = 'E2E-TASK-BOT-TOKEN.ghijkl';
const SERVER_SECRET = 'E2E-SERVER-WEBHOOK-SECRET-0123';
const TASK_SECRET = 'E2E-TASK-WEBHOOK-SECRET-45678';
const SECRETS = [SERVER_BOT_TOKEN, TASK_BOT_TOKEN, SERVER_SECRET, TASK_SECRET];

describe('callbacks from real processes', { timeout: 90_000 }, () => {
  let dir: string;
  let discord: MockDiscord;
  let server: Daemon & { match: RegExpMatchArray };
  let runner: Daemon;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-e2e-cb-'));
    discord = await startMockDiscord();
    const serverEnv = cleanEnv({
      OUTPOST_TOKEN: TOKEN,
      OUTPOST_DATA_DIR: join(dir, 'server'),
      OUTPOST_LOG_LEVEL: 'debug',
      DISCORD_BOT_TOKEN: SERVER_BOT_TOKEN,
      DISCORD_API_BASE_URL: discord.apiBaseUrl,
      OUTPOST_WEBHOOK_SECRET: SERVER_SECRET,
      OUTPOST_CALLBACK_MAX_ATTEMPTS: '2',
      OUTPOST_CALLBACK_RETRY_BASE_MS: '50',
    });
    const listening = /listening on (http:\/\/\S+)/;
    server = await startDaemon(['serve', '--port', '0'], serverEnv, listening);
    url = server.match[1]!;
    const runnerEnv = cleanEnv({
      OUTPOST_URL: url,
      OUTPOST_TOKEN: TOKEN,
      OUTPOST_DATA_DIR: join(dir, 'runner'),
      OUTPOST_ROOTS: dir,
      OUTPOST_RUNNER_NAME: 'e2e-cb',
      OUTPOST_LOG_LEVEL: 'debug',
    });
    runner = await startDaemon(['runner'], runnerEnv, /polling/);
  });

  after(async () => {
    await runner?.stop();
    await server?.stop();
    await discord?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers, and no secret appears in any read or log', async () => {
    const client = new OutpostClient({ baseUrl: url, token: TOKEN });
    // The task's own callbacks fail (403, then 500 twice), so error paths log too.
    discord.queue(
      { status: 403, body: { message: 'Missing Access' } },
      { status: 500 },
      { status: 500 },
    );
    const failing = await client.createTask({
      kind: 'shell',
      spec: { command: 'echo failing' },
      callback: {
        discord: { channel: '1001', botToken: TASK_BOT_TOKEN },
        webhook: { url: `${discord.origin}/hook`, secret: TASK_SECRET },
      },
    });
    await untilTask(client, failing.id, callbacksSettled, 20_000);
    const ok = await client.createTask({
      kind: 'shell',
      spec: { command: 'echo hello' },
      callback: { discord: { channel: '1002' }, webhook: { url: `${discord.origin}/hook` } },
    });
    const done = await untilTask(client, ok.id, callbacksSettled, 20_000);
    assert.deepEqual(
      done.callbacks?.map((c) => c.state),
      ['sent', 'sent'],
    );
    const posted = discord.messages().find((m) => m.channel === '1002');
    assert.deepEqual(
      [posted?.content, posted?.authorization],
      ['hello\n', `Bot ${SERVER_BOT_TOKEN}`],
    );

    const reads = await readEverything(url, TOKEN, [failing.id, ok.id]);
    assertNoSecrets(reads, SECRETS);
    assert.match(server.output(), /callback failed/, 'the failure was logged');
    assertNoSecrets(
      [
        { what: 'server log', body: server.output() },
        { what: 'runner log', body: runner.output() },
      ],
      SECRETS,
    );
  });
});
