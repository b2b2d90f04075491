// Approvals end to end through a real `outpost serve` and a real `outpost runner` whose policy
// holds `echo needs-ok…` and allows remote approval: submit → the task reads `held` with the
// reason → `outpost approve` (POST /v1/tasks/:id/approve) → it runs, same attempt, and succeeds;
// `outpost reject` refuses another, which never runs. The runner's audit log has both stories.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutpostClient } from '../../src/sdk/client.ts';
import type { Task } from '../../src/protocol/tasks.ts';
import { runCli, startDaemon, startServer, type Daemon } from '../helpers/processes.ts';

const TOKEN = 'approvals-e2e-token-0123456789';

describe('approvals through the real server', { timeout: 120_000 }, () => {
  let dir: string;
  let server: Daemon;
  let runner: Daemon;
  let env: NodeJS.ProcessEnv;
  let runnerEnv: NodeJS.ProcessEnv;
  let client: OutpostClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-approvals-e2e-'));
    let url: string;
    ({ server, env, url } = await startServer(dir, TOKEN));
    client = new OutpostClient({ baseUrl: url, token: TOKEN });
    const config = join(dir, 'runner.json');
    writeFileSync(
      config,
      JSON.stringify({
        policy: {
          commands: { requireApproval: ['^echo needs-ok\\b'] },
          approvals: { remote: true, expireAfterMs: '2m' },
        },
      }),
    );
    runnerEnv = {
      ...env,
      OUTPOST_DATA_DIR: join(dir, 'runner'),
      OUTPOST_ROOTS: dir,
      OUTPOST_RUNNER_NAME: 'home',
      OUTPOST_CONFIG: config,
    };
    runner = await startDaemon(['runner'], runnerEnv, /polling/);
  });
  after(async () => {
    await runner?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function submitHeld(command: string): Promise<Task> {
    const task = await client.createTask({ kind: 'shell', spec: { command } });
    for (let waited = 0; waited < 20_000; waited += 100) {
      const read = await client.getTask(task.id);
      if (read.state === 'held') return read;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`task ${task.id} was never held`);
  }

  it('submit → held with the reason → outpost approve → succeeded, same attempt', async () => {
    const held = await submitHeld('echo needs-ok twice');
    assert.equal(held.hold?.rule, 'commands.requireApproval[0]');
    assert.match(held.hold?.reason ?? '', /needs a person's approval \(pattern \^echo needs-ok/);
    assert.ok((held.hold?.expiresAt ?? 0) > Date.now() + 60_000);
    assert.equal(held.runner, 'home');

    const approved = await runCli(['approve', held.id, '--reason', 'looks fine'], env);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /approved by token configured-token/);

    const done = await client.waitForTask(held.id);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.outcome));
    assert.equal(done.outcome?.stdout, 'needs-ok twice\n');
    assert.equal(done.attempt, 1, 'ran in the attempt that held it');
    assert.equal(done.hold?.decision?.decision, 'approved');
    assert.equal(done.hold?.decision?.by, 'token configured-token');
    assert.equal(done.hold?.decision?.reason, 'looks fine');
  });

  it('outpost reject refuses a held task; it never runs', async () => {
    const held = await submitHeld('echo needs-ok never');
    const rejected = await runCli(['reject', held.id, '--reason', 'not now'], env);
    assert.equal(rejected.code, 0, rejected.stderr);
    const done = await client.waitForTask(held.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.outcome?.error?.kind, 'refused');
    assert.match(
      done.outcome?.error?.message ?? '',
      /rejected by token configured-token: not now$/,
    );
    assert.equal(done.outcome?.stdout, undefined);
  });

  it('the runner audit log records who approved and who rejected', async () => {
    const res = await runCli(['runner', 'audit', '--json'], runnerEnv);
    assert.equal(res.code, 0, res.stderr);
    const decisions = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { decision?: string; by?: string })
      .filter((e) => e.decision !== undefined && e.decision !== 'held')
      .map((e) => [e.decision, e.by]);
    assert.deepEqual(decisions, [
      ['approved', 'token configured-token'],
      ['rejected', 'token configured-token'],
    ]);
  });
});
