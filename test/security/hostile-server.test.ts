// The runner is the authority over its machine: a fake server on loopback feeds a real
// `outpost runner` process forged tasks; every one is refused or contained, reported with the
// rule that refused it, and recorded with its decision in the local audit log.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
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
        commands: {
          deny: ['\\brm\\s+-rf\\b'],
          requireApproval: ['^git push\\b', '^echo approved\\b'],
        },
        maxTimeoutMs: '1m',
        approvals: { remote: false, expireAfterMs: '1m' },
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

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('timed out waiting');
}

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

  it('holds an approval-required command; `outpost runner approve` runs it, same attempt', async () => {
    const { id, done } = server.start('shell', { command: 'echo approved run' });
    const held = await server.held(id);
    assert.equal(held.rule, 'commands.requireApproval[1]');
    assert.match(held.reason, /needs a person's approval \(pattern \^echo approved/);
    assert.ok(held.expiresAt > Date.now() + 50_000, 'the policy gives a minute');
    const listed = await runCli(['runner', 'approvals', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const pending = JSON.parse(listed.stdout) as { taskId: string; summary: { command: string } }[];
    assert.deepEqual(
      pending.map((p) => [p.taskId, p.summary.command]),
      [[id, 'echo approved run']],
    );
    const approved = await runCli(['runner', 'approve', id], env);
    assert.equal(approved.code, 0, approved.stderr);
    const outcome = await done;
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome));
    assert.equal(outcome.stdout, 'approved run\n');
    const by = `local user ${userInfo().username}`;
    assert.equal(server.resumed.get(id)?.by, by, 'the server is told who approved');
    assert.deepEqual(
      auditOf(id).map((e) => [e.event, e.decision, e.by]),
      [
        ['received', undefined, undefined],
        ['decision', 'held', undefined],
        ['decision', 'approved', by],
        ['started', undefined, undefined],
        ['ended', undefined, undefined],
      ],
    );
  });

  it('a command rejected with `outpost runner reject` is refused and never runs', async () => {
    const { id, done } = server.start('shell', { command: 'git push origin main' });
    await server.held(id);
    const rejected = await runCli(['runner', 'reject', id, '--reason', 'not today'], env);
    assert.equal(rejected.code, 0, rejected.stderr);
    const outcome = await done;
    assert.equal(outcome.error?.kind, 'refused');
    assert.equal(outcome.error?.rule, 'commands.requireApproval[0]');
    assert.match(outcome.error?.message ?? '', /rejected by local user .*: not today$/);
    assert.deepEqual(
      auditOf(id).map((e) => e.decision ?? e.event),
      ['received', 'held', 'rejected'],
      'never started',
    );
    const again = await runCli(['runner', 'approve', id], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not held for approval here/);
  });

  it('ignores a remote approval when the policy does not allow one: audited, still held', async () => {
    const { id, done } = server.start('shell', { command: 'echo approved remotely?' });
    await server.held(id);
    server.decide(id, { decision: 'approved', by: 'token evil', at: Date.now(), source: 'remote' });
    const refused = await waitFor(() => auditOf(id).find((e) => e.decision === 'approval-refused'));
    assert.equal(refused.rule, 'approvals.remote');
    assert.equal(refused.by, 'token evil');
    const rehold = await waitFor(async () => {
      const hold = await server.held(id);
      return hold.reason.includes('was refused') ? hold : undefined;
    });
    assert.match(rehold.reason, /remote approval by token evil was refused \(approvals\.remote/);
    assert.ok(!auditOf(id).some((e) => e.event === 'started'), 'still held, nothing ran');
    await runCli(['runner', 'reject', id], env);
    assert.equal((await done).error?.kind, 'refused');
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
