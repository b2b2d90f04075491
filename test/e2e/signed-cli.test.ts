// Signed tasks end to end: `outpost keys create`, a real `outpost serve`, and a real `outpost
// runner` in require-signed mode. A task signed with --sign-key (or OUTPOST_SIGNING_KEY) runs;
// an unsigned one is refused with its rule and never starts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startDaemon, startServer, type Daemon } from '../helpers/processes.ts';

const TOKEN = 'signed-e2e-token-0123456789';

describe(
  'signed tasks: outpost keys, run --sign-key, a require-signed runner',
  { timeout: 120_000 },
  () => {
    let dir: string;
    let server: Daemon;
    let runner: Daemon | undefined;
    let env: NodeJS.ProcessEnv;
    let keyPath: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'outpost-signed-'));
      ({ server, env } = await startServer(dir, TOKEN));
    });
    after(async () => {
      await runner?.stop();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('creates a key pair: private key 0600, a one-line public key; show prints it', async () => {
      const keys = join(dir, 'keys');
      const res = await runCli(
        ['keys', 'create', '--name', 'laptop', '--out', keys, '--json'],
        env,
      );
      assert.equal(res.code, 0, res.stderr);
      const made = JSON.parse(res.stdout) as {
        id: string;
        publicKey: string;
        privateKeyPath: string;
      };
      keyPath = made.privateKeyPath;
      assert.equal(made.id, 'laptop');
      assert.match(made.publicKey, /^ed25519:[A-Za-z0-9+/]{43}=$/);
      assert.equal(statSync(keyPath).mode & 0o777, 0o600);
      assert.equal(readFileSync(join(keys, 'laptop.pub'), 'utf8'), `${made.publicKey}\n`);
      const shown = await runCli(['keys', 'show', '--name', 'laptop', '--out', keys], env);
      assert.equal(shown.stdout, `${made.publicKey}\n`);
      const again = await runCli(['keys', 'create', '--name', 'laptop', '--out', keys], env);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /exists/);

      runner = await startDaemon(
        ['runner'],
        {
          ...env,
          OUTPOST_DATA_DIR: join(dir, 'runner'),
          OUTPOST_ROOTS: dir,
          OUTPOST_RUNNER_NAME: 'signed',
          OUTPOST_SIGNING: 'require',
          OUTPOST_TRUSTED_KEYS: `laptop=${made.publicKey}`,
        },
        /polling/,
      );
    });

    it('runs a task signed with --sign-key', async () => {
      const res = await runCli(['run', '--sign-key', keyPath, '--', 'echo signed'], env);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout, 'signed\n');
    });

    it('signs with OUTPOST_SIGNING_KEY too, and the task carries its signature', async () => {
      const submitted = await runCli(['submit', '--', 'echo from-env'], {
        ...env,
        OUTPOST_SIGNING_KEY: keyPath,
      });
      assert.equal(submitted.code, 0, submitted.stderr);
      const shown = await runCli(['show', submitted.stdout.trim(), '--wait', '30s', '--json'], env);
      const task = JSON.parse(shown.stdout) as { state: string; signature?: { keyId: string } };
      assert.equal(task.state, 'succeeded');
      assert.equal(task.signature?.keyId, 'laptop');
    });

    it('refuses an unsigned task with its rule; the command never runs', async () => {
      const marker = join(dir, 'unsigned-ran');
      const res = await runCli(['run', '--', `touch ${marker}`], env);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /not signed.*\[signing\.unsigned\]/);
      assert.equal(existsSync(marker), false);
    });

    it('stops with a clear message for a key file that is not a key', async () => {
      const res = await runCli(
        ['run', '--sign-key', join(dir, 'keys', 'laptop.pub'), '--', 'true'],
        env,
      );
      assert.equal(res.code, 2);
      assert.match(res.stderr, /--sign-key: .* is not a PEM private key/);
    });
  },
);
