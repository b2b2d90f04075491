// Approvals against a hostile server: a real runner holds an approval-required command and the
// fake server relays forged remote approvals. In require-signed mode with remote approval allowed,
// only an approval signed by a trusted key for exactly this task makes it run; every forgery is
// refused, audited, and the task stays held. Without a decision a held task expires, refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HoldDecision } from '../../src/protocol/approvals.ts';
import { OutpostClient } from '../../src/sdk/client.ts';
import { signApproval, signTaskBody } from '../../src/sdk/signing.ts';
import { loadRunnerConfig } from '../../src/runner/config.ts';
import { createRunner, type Runner } from '../../src/runner/create-runner.ts';
import { nodeTransport } from '../../src/runner/node-transport.ts';
import { auditPathOf } from '../../src/runner/audit/audit-log.ts';
import { readAuditLog } from '../../src/runner/audit/read-audit.ts';
import { publicKeyLine } from '../../src/cli/signing-key.ts';
import {
  startHostileServer,
  taskFromBody,
  type HostileServer,
} from '../helpers/signed-hostile-server.ts';

const T = { timeout: 60_000 };
const { privateKey } = generateKeyPairSync('ed25519');
const laptop = { keyId: 'laptop', privateKey };

interface Rig {
  server: HostileServer;
  root: string;
  dataDir: string;
  runner: Runner;
}

async function startRig(
  approvals: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): Promise<Rig> {
  const server = await startHostileServer();
  const root = mkdtempSync(join(tmpdir(), 'outpost-approvals-root-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-approvals-data-'));
  const file = join(dataDir, 'runner.json');
  const policy = { commands: { requireApproval: ['^echo held\\b'] }, approvals };
  writeFileSync(file, JSON.stringify({ policy }));
  const config = loadRunnerConfig(env, {
    file,
    flags: {
      serverUrl: server.url,
      token: 'hostile-runner-token-0123456789',
      name: 'home',
      roots: [root],
      dataDir,
      longPollMs: 1_000,
      retryBaseMs: 50,
      retryMaxMs: 200,
    },
  });
  const client = new OutpostClient({
    baseUrl: server.url,
    token: config.token,
    fetch: nodeTransport,
  });
  const runner = createRunner({ client, config, log: () => undefined });
  void runner.start();
  return { server, root, dataDir, runner };
}

async function stopRig(rig: Rig | undefined): Promise<void> {
  await rig?.runner.stop();
  await rig?.server.close();
  for (const dir of [rig?.root, rig?.dataDir])
    if (dir) rmSync(dir, { recursive: true, force: true });
}

const decisionsOf = (rig: Rig, taskId: string) =>
  readAuditLog(auditPathOf(rig.dataDir), { taskId }).filter((e) => e.event === 'decision');

async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let waited = 0; waited < 15_000; waited += 25) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('remote approvals in require-signed mode', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig(
      { remote: true, expireAfterMs: '1m' },
      { OUTPOST_SIGNING: 'require', OUTPOST_TRUSTED_KEYS: `laptop=${publicKeyLine(privateKey)}` },
    );
  });
  after(() => stopRig(rig));

  it(
    'refuses forged approvals, each audited with its rule, until a signed one runs the task',
    T,
    async () => {
      const body = await signTaskBody(
        {
          kind: 'shell',
          spec: { command: 'echo held >> ran', cwd: rig.root },
          target: { runner: 'home' },
        },
        laptop,
      );
      const task = taskFromBody(body, 'ap-1');
      rig.server.deliver(task);
      await until(() => rig.server.holds.get('ap-1'), 'the hold');
      const taskNonce = task.signature!.nonce;
      const { privateKey: stranger } = generateKeyPairSync('ed25519');
      const base = { decision: 'approved', by: 'token alice', source: 'remote' } as const;
      const at = Date.now();
      const forgeries: [string, HoldDecision][] = [
        ['approvals.unsigned', { ...base, at }],
        [
          'approvals.unknown-key',
          {
            ...base,
            at: at + 1,
            signature: await signApproval(
              { keyId: 'stranger', privateKey: stranger },
              { taskId: 'ap-1', decision: 'approved', taskNonce },
            ),
          },
        ],
        [
          'approvals.invalid',
          {
            ...base,
            at: at + 2,
            signature: await signApproval(laptop, {
              taskId: 'another-task',
              decision: 'approved',
              taskNonce,
            }),
          },
        ],
        [
          'approvals.invalid',
          {
            ...base,
            at: at + 3,
            signature: await signApproval(laptop, {
              taskId: 'ap-1',
              decision: 'rejected',
              taskNonce,
            }),
          },
        ],
        [
          'approvals.expired',
          {
            ...base,
            at: at + 4,
            signature: await signApproval(laptop, {
              taskId: 'ap-1',
              decision: 'approved',
              taskNonce,
              expiresAt: Date.now() - 3_600_000,
            }),
          },
        ],
      ];
      for (const [i, [rule, forged]] of forgeries.entries()) {
        rig.server.decide('ap-1', forged);
        const refused = await until(
          () => decisionsOf(rig, 'ap-1').filter((e) => e.decision === 'approval-refused')[i],
          rule,
        );
        assert.equal(refused.rule, rule);
        assert.match(refused.by ?? '', /^token alice/);
        assert.equal(existsSync(join(rig.root, 'ran')), false, `${rule}: nothing ran`);
        assert.equal(rig.server.finished.has('ap-1'), false, `${rule}: still held`);
      }
      const hold = rig.server.holds.get('ap-1')!;
      assert.match(hold.reason, /a remote approval by token alice.* was refused \(approvals\./);

      const genuine = await signApproval(laptop, {
        taskId: 'ap-1',
        decision: 'approved',
        taskNonce,
      });
      rig.server.decide('ap-1', { ...base, at: at + 5, signature: genuine });
      await rig.server.waitForOutcomes(['ap-1']);
      assert.equal(rig.server.finished.get('ap-1')?.status, 'succeeded');
      assert.equal(readFileSync(join(rig.root, 'ran'), 'utf8'), 'held\n');
      assert.equal(rig.server.resumed.get('ap-1')?.by, 'token alice, key laptop');
      assert.deepEqual(
        decisionsOf(rig, 'ap-1').map((e) => e.decision),
        ['held', ...forgeries.map(() => 'approval-refused'), 'approved'],
      );
    },
  );

  it('cancels a held task when a client cancels it: never run, audited', T, async () => {
    const body = await signTaskBody(
      {
        kind: 'shell',
        spec: { command: 'echo held >> cancelled', cwd: rig.root },
        target: { runner: 'home' },
      },
      laptop,
    );
    rig.server.deliver(taskFromBody(body, 'ap-3'));
    await until(() => rig.server.holds.get('ap-3'), 'the hold');
    rig.server.cancel('ap-3');
    await rig.server.waitForOutcomes(['ap-3']);
    const outcome = rig.server.finished.get('ap-3')!;
    assert.equal(outcome.status, 'cancelled');
    assert.match(outcome.error?.message ?? '', /cancelled while held for approval/);
    assert.equal(existsSync(join(rig.root, 'cancelled')), false);
    assert.deepEqual(
      decisionsOf(rig, 'ap-3').map((e) => e.decision),
      ['held', 'cancelled'],
    );
  });

  it(
    'takes a remote rejection without a signature: the server could cancel anyway',
    T,
    async () => {
      const body = await signTaskBody(
        {
          kind: 'shell',
          spec: { command: 'echo held >> rejected', cwd: rig.root },
          target: { runner: 'home' },
        },
        laptop,
      );
      rig.server.deliver(taskFromBody(body, 'ap-2'));
      await until(() => rig.server.holds.get('ap-2'), 'the hold');
      rig.server.decide('ap-2', {
        decision: 'rejected',
        by: 'token bob',
        at: Date.now(),
        source: 'remote',
        reason: 'no',
      });
      await rig.server.waitForOutcomes(['ap-2']);
      const outcome = rig.server.finished.get('ap-2')!;
      assert.equal(outcome.error?.rule, 'commands.requireApproval[0]');
      assert.match(outcome.error?.message ?? '', /rejected by token bob: no$/);
      assert.equal(existsSync(join(rig.root, 'rejected')), false);
      assert.deepEqual(
        decisionsOf(rig, 'ap-2').map((e) => [e.decision, e.by]),
        [
          ['held', undefined],
          ['rejected', 'token bob'],
        ],
      );
    },
  );
});

describe('a held task nobody decides', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ expireAfterMs: 1_000 });
  });
  after(() => stopRig(rig));

  it('expires: refused with its rule and "approval expired", never run, audited', T, async () => {
    const task = taskFromBody(
      { kind: 'shell', spec: { command: 'echo held >> late', cwd: rig.root } },
      'ex-1',
    );
    rig.server.deliver(task);
    await rig.server.waitForOutcomes(['ex-1']);
    const outcome = rig.server.finished.get('ex-1')!;
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.kind, 'refused');
    assert.equal(outcome.error?.rule, 'commands.requireApproval[0]');
    assert.match(outcome.error?.message ?? '', /approval expired: nobody decided within 1 s$/);
    assert.ok(rig.server.holds.get('ex-1')!.expiresAt > 0, 'the server was told first');
    assert.equal(existsSync(join(rig.root, 'late')), false);
    assert.deepEqual(
      decisionsOf(rig, 'ex-1').map((e) => e.decision),
      ['held', 'expired'],
    );
  });
});
