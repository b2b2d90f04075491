// The hostile-server battery, signed mode: a fake server on loopback feeds a real runner in
// require-signed mode forged tasks. Each is refused with its rule and nothing runs (the marker
// files they would create never appear); a genuinely signed task runs, and a lease re-delivery
// of it (same task id, next attempt) is not mistaken for a replay, even after a runner restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreateTaskBody } from '../../src/protocol/tasks.ts';
import { OutpostClient } from '../../src/sdk/client.ts';
import { signTaskBody } from '../../src/sdk/signing.ts';
import { loadRunnerConfig } from '../../src/runner/config.ts';
import { createRunner, type Runner } from '../../src/runner/create-runner.ts';
import { nodeTransport } from '../../src/runner/node-transport.ts';
import { publicKeyLine } from '../../src/cli/signing-key.ts';
import { auditPathOf } from '../../src/runner/audit/audit-log.ts';
import { readAuditLog } from '../../src/runner/audit/read-audit.ts';
import {
  startHostileServer,
  taskFromBody,
  type HostileServer,
} from '../helpers/signed-hostile-server.ts';

const T = { timeout: 30_000 };
const { privateKey } = generateKeyPairSync('ed25519');
const signingKey = { keyId: 'laptop', privateKey };

describe('hostile server, require-signed runner', () => {
  let server: HostileServer;
  let root: string;
  let dataDir: string;
  let runner: Runner;

  function startRunner(): Runner {
    const config = loadRunnerConfig(
      { OUTPOST_SIGNING: 'require', OUTPOST_TRUSTED_KEYS: `laptop=${publicKeyLine(privateKey)}` },
      {
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
      },
    );
    const client = new OutpostClient({
      baseUrl: server.url,
      token: config.token,
      fetch: nodeTransport,
    });
    const started = createRunner({ client, config, log: () => undefined });
    void started.start();
    return started;
  }

  const touch = (name: string): CreateTaskBody => ({
    kind: 'shell',
    spec: { command: `echo ran >> ${name}`, cwd: root },
    target: { runner: 'home' },
  });
  const lines = (name: string) =>
    existsSync(join(root, name))
      ? readFileSync(join(root, name), 'utf8').trim().split('\n').length
      : 0;

  /** Each task's audit story: its events, and the rule of its decision. */
  const auditOf = (taskId: string) => {
    const entries = readAuditLog(auditPathOf(dataDir), { taskId });
    return entries.map((e) =>
      e.event === 'decision' ? `${e.decision} ${e.rule ?? ''}`.trim() : e.event,
    );
  };

  async function runThrough(tasks: ReturnType<typeof taskFromBody>[], attempt = 1) {
    for (const task of tasks) server.finished.delete(task.id);
    for (const task of tasks) server.deliver(task, attempt);
    await server.waitForOutcomes(tasks.map((t) => t.id));
    return tasks.map((t) => server.finished.get(t.id)!);
  }

  before(async () => {
    server = await startHostileServer();
    root = mkdtempSync(join(tmpdir(), 'outpost-hostile-root-'));
    dataDir = mkdtempSync(join(tmpdir(), 'outpost-hostile-data-'));
    runner = startRunner();
  });
  after(async () => {
    await runner.stop();
    await server.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'refuses unsigned, tampered, expired and unknown-key tasks before anything runs',
    T,
    async () => {
      const tampered = await signTaskBody(touch('legit-looking'), signingKey);
      tampered.spec = { command: 'echo ran >> tampered', cwd: root };
      const expired = await signTaskBody(
        touch('expired'),
        { ...signingKey, ttlMs: 60_000 },
        Date.now() - 3 * 3_600_000,
      );
      const { privateKey: stranger } = generateKeyPairSync('ed25519');
      const unknown = await signTaskBody(touch('unknown'), {
        keyId: 'stranger',
        privateKey: stranger,
      });
      const outcomes = await runThrough([
        taskFromBody(touch('unsigned'), 'h-unsigned'),
        taskFromBody(tampered, 'h-tampered'),
        taskFromBody(expired, 'h-expired'),
        taskFromBody(unknown, 'h-unknown'),
      ]);
      assert.deepEqual(
        outcomes.map((o) => [o.status, o.error?.kind, o.error?.rule]),
        [
          ['failed', 'refused', 'signing.unsigned'],
          ['failed', 'refused', 'signing.invalid'],
          ['failed', 'refused', 'signing.expired'],
          ['failed', 'refused', 'signing.unknown-key'],
        ],
      );
      for (const name of ['unsigned', 'tampered', 'legit-looking', 'expired', 'unknown']) {
        assert.equal(existsSync(join(root, name)), false, `${name} must not exist`);
      }
      // The signature is the pipeline's first step: its refusals are audited like the policy's.
      assert.deepEqual(['h-unsigned', 'h-tampered', 'h-expired', 'h-unknown'].map(auditOf), [
        ['received', 'refused signing.unsigned'],
        ['received', 'refused signing.invalid'],
        ['received', 'refused signing.expired'],
        ['received', 'refused signing.unknown-key'],
      ]);
    },
  );

  it(
    'runs a signed task; refuses its replay under a new id; re-runs a lease re-delivery',
    T,
    async () => {
      const signed = await signTaskBody(touch('once'), signingKey);
      const [first] = await runThrough([taskFromBody(signed, 'h-signed')]);
      assert.equal(first!.status, 'succeeded');
      assert.equal(lines('once'), 1);

      const [replay] = await runThrough([taskFromBody(signed, 'h-replay')]);
      assert.equal(replay!.error?.rule, 'signing.replayed');
      assert.equal(lines('once'), 1);
      assert.deepEqual(auditOf('h-replay'), ['received', 'refused signing.replayed']);
      assert.deepEqual(auditOf('h-signed'), ['received', 'ran', 'started', 'ended']);

      const [again] = await runThrough([taskFromBody(signed, 'h-signed')], 2);
      assert.equal(again!.status, 'succeeded');
      assert.equal(lines('once'), 2);
    },
  );

  it('still refuses the replay after the runner restarts (the cache is on disk)', T, async () => {
    const signed = await signTaskBody(touch('restart'), signingKey);
    await runThrough([taskFromBody(signed, 'h-before-restart')]);
    assert.equal(lines('restart'), 1);
    await runner.stop();
    runner = startRunner();
    const [replay] = await runThrough([taskFromBody(signed, 'h-after-restart')]);
    assert.equal(replay!.error?.rule, 'signing.replayed');
    assert.equal(lines('restart'), 1);
  });
});
