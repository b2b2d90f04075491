// The README, executed: the quickstart (`outpost up`, then `outpost run -- echo hi`) and the real
// deployment (serve on 0.0.0.0 with a token, scoped tokens, a named runner, run, and curl).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cleanEnv, runCli, startDaemon, type Daemon } from '../helpers/processes.ts';

const sh = promisify(execFile);

/** The README's curl examples, as written there, so the test fails when they drift. */
function readmeCurlBlocks(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  return [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((block) => block.trimStart().startsWith('curl') || block.startsWith('ID=$(curl'));
}
const dir = mkdtempSync(join(tmpdir(), 'outpost-readme-'));
const daemons: Daemon[] = [];

after(async () => {
  for (const d of daemons.reverse()) await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('README quickstart', { timeout: 90_000 }, () => {
  it('`outpost up` prints a URL and a token, and `outpost run -- echo hi` works with no setup', async () => {
    const env = cleanEnv({ OUTPOST_DATA_DIR: join(dir, 'up'), OUTPOST_ROOTS: dir });
    const up = await startDaemon(['up', '--port', '0'], env, /Press Ctrl-C/);
    daemons.push(up);
    const url = /URL:\s+(\S+)/.exec(up.output())?.[1];
    const token = /Token:\s+(\S+)/.exec(up.output())?.[1];
    assert.ok(url && token, up.output());
    assert.match(up.output(), /npx outpost run -- echo hi/);
    const res = await runCli(['run', '--', 'echo hi'], env);
    assert.deepEqual([res.code, res.stdout], [0, 'hi\n'], res.stderr);
    // The curl line `up` prints, as printed.
    const curlLine = /(curl -s .*\/tasks)/.exec(up.output())?.[1];
    assert.ok(curlLine);
    const { stdout } = await sh('sh', ['-c', curlLine]);
    assert.match(stdout, /"taskId":"[0-9a-f-]{36}","message":"Task created, waiting for worker"/);
  });
});

describe('README deployment', { timeout: 90_000 }, () => {
  const adminToken = 'readme-admin-token-0123456789';

  it('refuses to serve on 0.0.0.0 without a token', async () => {
    const env = cleanEnv({
      OUTPOST_HOST: '0.0.0.0',
      OUTPOST_PORT: '0',
      OUTPOST_DATA_DIR: join(dir, 'open'),
    });
    const res = await runCli(['serve'], env);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /Refusing to listen on 0\.0\.0\.0 with no token/);
  });

  it('serves, makes scoped tokens, runs on a named runner, and answers curl on both APIs', async () => {
    const serverEnv = cleanEnv({
      OUTPOST_TOKEN: adminToken,
      OUTPOST_HOST: '0.0.0.0',
      OUTPOST_PORT: '0',
      OUTPOST_DATA_DIR: join(dir, 'cloud'),
    });
    const server = await startDaemon(['serve'], serverEnv, /listening on (http:\/\/\S+)/);
    daemons.push(server);
    const url = server.match[1]!;
    const adminEnv = cleanEnv({
      OUTPOST_URL: url,
      OUTPOST_TOKEN: adminToken,
      OUTPOST_DATA_DIR: join(dir, 'admin'),
    });
    const runnerSecret = (
      await runCli(['token', 'create', 'home', '--role', 'runner', '--runner', 'home'], adminEnv)
    ).stdout.trim();
    const clientSecret = (
      await runCli(['token', 'create', 'discord-bot', '--role', 'client'], adminEnv)
    ).stdout.trim();
    assert.match(runnerSecret, /^op_/);
    assert.match((await runCli(['token', 'list'], adminEnv)).stdout, /discord-bot\s+client/);

    const homeEnv = cleanEnv({
      OUTPOST_URL: url,
      OUTPOST_TOKEN: runnerSecret,
      OUTPOST_DATA_DIR: join(dir, 'home'),
      OUTPOST_ROOTS: dir,
      // Stands in for `claude` on the home machine's PATH (there is no real account here).
      CLAUDE_PATH: fileURLToPath(new URL('../fixtures/fake-claude.mjs', import.meta.url)),
      HOME: join(dir, 'home'),
    });
    daemons.push(await startDaemon(['runner', '--name', 'home'], homeEnv, /polling/));

    const clientEnv = cleanEnv({
      OUTPOST_URL: url,
      OUTPOST_TOKEN: clientSecret,
      OUTPOST_DATA_DIR: join(dir, 'client'),
    });
    const hi = await runCli(['run', '--', 'echo', 'hi'], clientEnv);
    assert.deepEqual([hi.code, hi.stdout], [0, 'hi\n'], hi.stderr);
    const named = await runCli(
      ['run', '--runner', 'home', '--timeout', '10m', '--', 'sh', '-c', 'exit 4'],
      clientEnv,
    );
    assert.equal(named.code, 4);

    const [v1, legacy, claude] = readmeCurlBlocks();
    assert.ok(v1 && legacy && claude, 'the README shows v1, legacy and /claude curl examples');
    const created = JSON.parse((await sh('sh', ['-c', v1], { env: clientEnv })).stdout) as {
      state: string;
      outcome: { stdout: string };
    };
    assert.equal(created.state, 'succeeded');
    assert.match(created.outcome.stdout, /load average/);

    const result = JSON.parse((await sh('sh', ['-c', legacy], { env: clientEnv })).stdout) as {
      exitCode: number;
      stdout: string;
    };
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /load average/);

    const answer = JSON.parse((await sh('sh', ['-c', claude], { env: clientEnv })).stdout) as {
      exitCode: number;
      stdout: string;
      metadata: { sessionId: string };
    };
    assert.equal(answer.exitCode, 0, JSON.stringify(answer));
    assert.match(answer.metadata.sessionId, /^[0-9a-f-]{36}$/);
    assert.equal(answer.stdout, `turn 1 of session ${answer.metadata.sessionId}: why is CI red?`);
  });
});
