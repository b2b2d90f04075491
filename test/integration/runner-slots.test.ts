// A runner's capacity counts tasks executing, not outcomes on their way to the server: with one
// slot and the server slow to answer finishes, the next task runs while the last one's finish waits.
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHostileServer, type HostileServer } from '../helpers/hostile-server.ts';
import { cleanEnv, startDaemon, type Daemon } from '../helpers/processes.ts';

let dir: string;
let server: HostileServer;
let runner: Daemon;

before(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'outpost-slots-')));
  server = await startHostileServer();
  const env = cleanEnv({
    OUTPOST_URL: server.url,
    OUTPOST_TOKEN: 'runner-secret-token-0123456789',
    OUTPOST_RUNNER_NAME: 'one-slot',
    OUTPOST_CAPACITY: '1',
    OUTPOST_ROOTS: dir,
    OUTPOST_DATA_DIR: join(dir, '.data'),
  });
  runner = await startDaemon(['runner'], env, /polling/);
});

after(async () => {
  await runner?.stop();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('runner slots', () => {
  it(
    'runs the next task while the last outcome still waits for its finish reply',
    { timeout: 20_000 },
    async () => {
      const release = server.stallFinishes();
      try {
        const first = await server.send('shell', { command: ['true'] });
        assert.equal(first.outcome.status, 'succeeded');
        // The runner sends one finish at a time, so the second outcome waits behind the stalled
        // one; its live output shows that it ran.
        const second = server.start('shell', { command: ['echo', 'second ran'] });
        while (!server.output(second.id).includes('second ran')) await sleep(20);
        release();
        assert.equal((await second.done).status, 'succeeded');
      } finally {
        release();
      }
    },
  );
});
