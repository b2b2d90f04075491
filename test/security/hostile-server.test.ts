// The runner is the authority over its machine: a fake server on loopback feeds a real
// `outpost runner` process forged tasks; every one is refused or contained, reported with the
// rule that refused it, and recorded with its decision in the local audit log.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAuditLog } from '../../src/runner/audit/read-audit.ts';
import { startHostileServer, type HostileServer } from '../helpers/hostile-server.ts';
import { cleanEnv, runCli, startDaemon, type Daemon } from '../helpers/processes.ts';

const TOKEN = 'runner-secret-token-0123456789';
let dir: string;
let rw: string;
let ro: string;
let server: HostileServer;
let runner: Daemon;
let env: NodeJS.ProcessEnv;

before(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'outpost-hostile-')));
  rw = join(dir, 'rw');
  ro = join(dir, 'ro');
  mkdirSync(rw);
  mkdirSync(ro);
  writeFileSync(join(dir, 'secret.txt'), 'outside the roots');
  symlinkSync(dir, join(rw, 'up'));
  const config = join(dir, 'runner.json');
  writeFileSync(
    config,
    JSON.stringify({
      roots: [rw],
      policy: {
        kinds: ['shell', 'file.read', 'file.write', 'file.list', 'agent'],
        agents: ['claude'],
        readOnlyRoots: [ro],
        commands: { deny: ['\\brm\\s+-rf\\b'], requireApproval: ['^git push\\b'] },
        maxTimeoutMs: '1m',
      },
    }),
  );
  server = await startHostileServer();
  env = cleanEnv({
    OUTPOST_URL: server.url,
    OUTPOST_TOKEN: TOKEN,
    OUTPOST_RUNNER_NAME: 'victim',
    OUTPOST_DATA_DIR: join(dir, 'data'),
    OUTPOST_CONFIG: config,
  });
  runner = await startDaemon(['runner'], env, /polling/);
});

after(async () => {
  await runner?.stop();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function auditOf(taskId: string) {
  return readAuditLog(join(dir, 'data', 'audit.log'), { taskId });
}

async function assertRefused(
  kind: Parameters<HostileServer['send']>[0],
  spec: Record<string, unknown>,
  rule: string,
  timeoutMs?: number,
) {
  const { id, outcome } = await server.send(kind, spec, timeoutMs);
  assert.equal(outcome.status, 'failed', JSON.stringify(outcome));
  assert.equal(outcome.error?.kind, 'refused');
  assert.equal(outcome.error?.rule, rule);
  assert.equal(outcome.error?.retryable, false);
  assert.match(outcome.error?.message ?? '', /^refused by the runner policy: /);
  const events = auditOf(id);
  assert.deepEqual(
    events.map((e) => e.event),
    ['received', 'decision'],
    'never started',
  );
  assert.equal(events[1]!.decision, 'refused');
  assert.equal(events[1]!.rule, rule);
  return id;
}

describe('a hostile server cannot make the runner break its policy', () => {
  it('reports its policy digest at hello', () => {
    assert.match(server.hello?.policyDigest ?? '', /^sha256:[0-9a-f]{64}$/);
  });

  it('refuses file tasks escaping the roots through .. and through a symlink', async () => {
    await assertRefused('file.read', { path: `${rw}/../secret.txt` }, 'roots');
    await assertRefused('file.read', { path: 'up/secret.txt' }, 'roots');
    await assertRefused('file.write', { path: 'up/planted.txt', content: 'x' }, 'roots');
  });

  it('refuses a write to a read-only root but lets reads in', async () => {
    await assertRefused('file.write', { path: join(ro, 'x.txt'), content: 'x' }, 'readOnlyRoots');
    const { id, outcome } = await server.send('file.list', { path: ro });
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome));
    assert.deepEqual(
      auditOf(id).map((e) => e.event),
      ['received', 'decision', 'started', 'ended'],
    );
  });

  it('refuses denied commands, as a string and as argv (also wrapped in sh -c)', async () => {
    await assertRefused('shell', { command: 'rm  -rf  ~' }, 'commands.deny[0]');
    await assertRefused('shell', { command: ['rm', '-rf', '/'] }, 'commands.deny[0]');
    await assertRefused(
      'shell',
      { command: ['/bin/sh', '-c', 'true; rm -rf ~'] },
      'commands.deny[0]',
    );
  });

  it('refuses an approval-required command (approvals are not supported yet)', async () => {
    const id = await assertRefused(
      'shell',
      { command: 'git push origin main' },
      'commands.requireApproval[0]',
    );
    assert.match(auditOf(id)[1]!.message ?? '', /approval/);
  });

  it('refuses a disallowed kind, a disallowed agent and an over-long timeout', async () => {
    await assertRefused('file.edit', { path: 'a', oldString: 'a', newString: 'b' }, 'kinds');
    await assertRefused('agent', { agent: 'codex', prompt: 'hi' }, 'agents');
    await assertRefused('shell', { command: 'true' }, 'maxTimeoutMs', 120_000);
  });

  it("contains a command printing the runner's token: the child never sees it", async () => {
    const { id, outcome } = await server.send('shell', {
      command: 'echo "token=[$OUTPOST_TOKEN][$WORKER_TOKEN]"',
    });
    assert.equal(outcome.status, 'succeeded');
    assert.match(outcome.stdout ?? '', /token=\[\]\[\]/);
    assert.ok(!(outcome.stdout ?? '').includes(TOKEN));
    assert.ok(!server.output(id).includes(TOKEN));
    const ended = auditOf(id).at(-1)!;
    assert.equal(ended.event, 'ended');
    assert.equal(ended.exitCode, 0);
  });

  it('keeps the token out of the audit log even when a task names it', async () => {
    await assertRefused('shell', { command: `rm -rf /tmp/${TOKEN}` }, 'commands.deny[0]');
    const { readFileSync } = await import('node:fs');
    assert.ok(!readFileSync(join(dir, 'data', 'audit.log'), 'utf8').includes(TOKEN));
  });

  it('outpost runner audit filters the log by decision and task', async () => {
    const refused = await runCli(['runner', 'audit', '--decision', 'refused', '--json'], env);
    assert.equal(refused.code, 0, refused.stderr);
    const entries = refused.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { taskId: string; decision?: string });
    assert.ok(entries.length >= 12);
    assert.ok(
      entries.filter((e) => e.decision !== undefined).every((e) => e.decision === 'refused'),
    );
    const one = await runCli(
      ['runner', 'audit', '--task', entries[0]!.taskId, '--since', '1h'],
      env,
    );
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /received/);
    assert.match(one.stdout, /refused roots: refused by the runner policy/);
    const none = await runCli(['runner', 'audit', '--task', 'nope'], env);
    assert.equal(none.stdout, '');
  });

  it('outpost runner policy prints the effective policy and the digest sent at hello', async () => {
    const json = await runCli(['runner', 'policy', '--json'], { ...env, OUTPOST_TOKEN: '' });
    assert.equal(json.code, 0, json.stderr);
    const printed = JSON.parse(json.stdout) as {
      digest: string;
      policy: { readOnlyRoots: string[]; maxTimeoutMs: number };
    };
    assert.equal(printed.digest, server.hello?.policyDigest);
    assert.deepEqual(printed.policy.readOnlyRoots, [ro]);
    assert.equal(printed.policy.maxTimeoutMs, 60_000);
    const text = await runCli(['runner', 'policy'], env);
    assert.match(text.stdout, new RegExp(`digest ${printed.digest}`));
    const bad = await runCli(['runner', 'policy', '--config', join(dir, 'missing.json')], env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /cannot be read/);
  });
});
