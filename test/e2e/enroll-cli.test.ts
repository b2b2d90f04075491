// `outpost token enroll-code` (admin) then `outpost runner enroll <code>` on the runner's machine:
// the runner token lands in the runner config file, bound to the code's runner name.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, runCli, startDaemon } from '../helpers/processes.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('enrolment through the CLI', { timeout: 60_000 }, () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'outpost-enroll-'));
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes a code, enrolls with it once, and saves a token bound to the runner', async () => {
    const admin = { ...process.env, OUTPOST_URL: server.url, OUTPOST_TOKEN: server.token };
    const made = await runCli(['token', 'enroll-code', 'box', '--ttl', '5m'], admin);
    assert.equal(made.code, 0, made.stderr);
    const code = made.stdout.trim();
    assert.match(code, /^opc_/);
    assert.match(made.stderr, /outpost runner enroll/);

    const runnerEnv = { ...process.env, OUTPOST_DATA_DIR: dir, OUTPOST_TOKEN: '' };
    const enrolled = await runCli(['runner', 'enroll', code, '--url', server.url], runnerEnv);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    const path = join(dir, 'runner.json');
    assert.match(enrolled.stderr, /Start the runner with: outpost runner\n/, 'no --config needed');
    const saved = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    assert.equal(saved.serverUrl, server.url);
    assert.equal(saved.name, 'box');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const hello = await fetch(`${server.url}/v1/runner/hello`, {
      method: 'POST',
      headers: { authorization: `Bearer ${saved.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'box', instanceId: 'i', capacity: 1, kinds: [], version: 'v' }),
    });
    assert.equal(hello.status, 200);

    const again = await runCli(['runner', 'enroll', code, '--url', server.url], runnerEnv);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already used/);

    // A plain `outpost runner` finds the enrolled runner.json in its data directory.
    const started = await startDaemon(
      ['runner'],
      cleanEnv({ OUTPOST_DATA_DIR: dir, OUTPOST_ROOTS: dir }),
      /polling/,
    );
    try {
      assert.match(started.output(), new RegExp(`outpost runner 'box' polling ${server.url}`));
    } finally {
      await started.stop();
    }
  });

  it('rotates a token from the CLI', async () => {
    const admin = { ...process.env, OUTPOST_URL: server.url, OUTPOST_TOKEN: server.token };
    assert.equal((await runCli(['token', 'create', 'ci', '--role', 'client'], admin)).code, 0);
    const rotated = await runCli(['token', 'rotate', 'ci'], admin);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /^op_/);
    assert.match(rotated.stderr, /old secret no longer works/);
  });
});
