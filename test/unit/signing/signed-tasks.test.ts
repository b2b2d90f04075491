// Signed tasks, unit level: the canonical form, SDK signing against the runner's check, each kind
// of refusal, the on-disk replay cache across a restart, and a lease re-delivery (not a replay).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, signedTaskText } from '../../../src/protocol/signature.ts';
import type { CreateTaskBody, Task } from '../../../src/protocol/tasks.ts';
import { signTaskBody } from '../../../src/sdk/signing.ts';
import { REPLAY_CACHE_FILE, ReplayCache } from '../../../src/runner/replay-cache.ts';
import { checkSignedTask, trustedKeyObjects } from '../../../src/runner/signed-admission.ts';
import { SIGNING_OFF } from '../../../src/runner/signing-config.ts';
import { publicKeyLine } from '../../../src/cli/signing-key.ts';

const NOW = 1_800_000_000_000;
const settings = { clockSkewMs: 60_000, maxValidityMs: 86_400_000 };

function keyPair(): { privateKey: KeyObject; line: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, line: publicKeyLine(privateKey) };
}

/** What the server would hand the runner for a created body. */
function delivered(body: CreateTaskBody, id = 'task-1'): Task {
  return {
    id,
    kind: body.kind,
    spec: body.spec,
    state: 'running',
    priority: 0,
    runAt: NOW,
    timeoutMs: 30_000,
    maxAttempts: 1,
    retryOnFailure: false,
    attempt: 1,
    createdAt: NOW,
    updatedAt: NOW,
    cancelRequested: false,
    ...(body.target ? { target: body.target } : {}),
    ...(body.sessionKey ? { sessionKey: body.sessionKey } : {}),
    ...(body.signature ? { signature: body.signature } : {}),
  };
}

describe('canonical form', () => {
  it('sorts keys at every depth, drops undefined, has no whitespace', () => {
    const a = canonicalJson({ b: 1, a: { d: [1, 'x', { z: true, y: null }], c: undefined } });
    const b = canonicalJson({ a: { d: [1, 'x', { y: null, z: true }] }, b: 1 });
    assert.equal(a, '{"a":{"d":[1,"x",{"y":null,"z":true}]},"b":1}');
    assert.equal(a, b);
  });

  it('is stable for a known task (the documented example)', () => {
    const text = signedTaskText(
      { kind: 'shell', spec: { command: 'echo hi', cwd: '/tmp' } },
      { keyId: 'laptop', nonce: 'AAAAAAAAAAAAAAAAAAAAAA', expiresAt: 1800000000000 },
    );
    assert.equal(
      text,
      '{"expiresAt":1800000000000,"keyId":"laptop","kind":"shell","nonce":"AAAAAAAAAAAAAAAAAAAAAA",' +
        '"sessionKey":null,"spec":{"command":"echo hi","cwd":"/tmp"},"target":null,"type":"outpost.task.v1"}',
    );
  });

  it('refuses non-finite numbers', () => {
    assert.throws(() => canonicalJson({ n: Infinity }), /non-finite/);
  });
});

describe('signed admission', () => {
  const laptop = keyPair();
  const keys = trustedKeyObjects({
    ...SIGNING_OFF,
    trustedKeys: [{ id: 'laptop', publicKey: laptop.line }],
  });
  let dir: string;
  let cache: ReplayCache;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-signing-'));
    cache = ReplayCache.open(dir, NOW);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const check = (task: Task, now = NOW, c = cache) =>
    checkSignedTask(task, { settings, keys, cache: c, now });
  const sign = (
    body: CreateTaskBody,
    opts: { keyId?: string; ttlMs?: number; key?: KeyObject } = {},
  ) =>
    signTaskBody(
      body,
      {
        keyId: opts.keyId ?? 'laptop',
        privateKey: opts.key ?? laptop.privateKey,
        ttlMs: opts.ttlMs,
      },
      NOW,
    );
  const shell = (command: string): CreateTaskBody => ({
    kind: 'shell',
    spec: { command },
    target: { runner: 'home' },
  });

  it('accepts a task signed by a trusted key (PEM text or KeyObject)', async () => {
    assert.deepEqual(check(delivered(await sign(shell('true')), 'ok-1')), { ok: true });
    const pem = laptop.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const body = await signTaskBody(shell('true'), { keyId: 'laptop', privateKey: pem }, NOW);
    assert.deepEqual(check(delivered(body, 'ok-2')), { ok: true });
  });

  it('refuses an unsigned task', () => {
    const verdict = check(delivered(shell('true'), 'u-1'));
    assert.equal(verdict.ok === false && verdict.rule, 'signing.unsigned');
  });

  it('refuses a change to kind, spec, target or session key', async () => {
    const body = await sign({ ...shell('echo hi'), sessionKey: 'room-1' });
    const tampered: Task[] = [
      { ...delivered(body, 't-1'), kind: 'file.list', spec: { path: '/' } },
      { ...delivered(body, 't-2'), spec: { command: 'rm -rf ~' } },
      { ...delivered(body, 't-3'), spec: { command: 'echo hi', cwd: '/etc' } },
      { ...delivered(body, 't-4'), target: { runner: 'other' } },
      { ...delivered(body, 't-5'), sessionKey: 'room-2' },
      { ...delivered(body, 't-6'), signature: { ...body.signature!, expiresAt: NOW + 10_000 } },
      {
        ...delivered(body, 't-7'),
        signature: { ...body.signature!, nonce: 'BBBBBBBBBBBBBBBBBBBBBB' },
      },
    ];
    for (const task of tampered) {
      const verdict = check(task);
      assert.equal(verdict.ok === false && verdict.rule, 'signing.invalid', task.id);
    }
  });

  it('refuses an unknown key, and a trusted id signed by another key', async () => {
    const other = keyPair();
    const unknown = check(
      delivered(await sign(shell('true'), { keyId: 'ci', key: other.privateKey }), 'k-1'),
    );
    assert.equal(unknown.ok === false && unknown.rule, 'signing.unknown-key');
    const forged = check(delivered(await sign(shell('true'), { key: other.privateKey }), 'k-2'));
    assert.equal(forged.ok === false && forged.rule, 'signing.invalid');
  });

  it('refuses an expired task, within the clock-skew allowance only', async () => {
    const body = await sign(shell('true'), { ttlMs: 1_000 });
    const late = check(delivered(body, 'e-1'), NOW + 1_000 + 60_001);
    assert.equal(late.ok === false && late.rule, 'signing.expired');
    assert.deepEqual(check(delivered(body, 'e-2'), NOW + 1_000 + 59_000), { ok: true });
  });

  it('refuses an expiry too far in the future', async () => {
    const body = await sign(shell('true'), { ttlMs: 30 * 86_400_000 });
    const verdict = check(delivered(body, 'f-1'));
    assert.equal(verdict.ok === false && verdict.rule, 'signing.expired');
    assert.match(verdict.ok === false ? verdict.message : '', /longer than this runner allows/);
  });

  it('refuses a replay (same nonce, new task id) but not a lease re-delivery (same task id)', async () => {
    const body = await sign(shell('true'));
    assert.deepEqual(check(delivered(body, 'r-1')), { ok: true });
    assert.deepEqual(check({ ...delivered(body, 'r-1'), attempt: 2 }), { ok: true });
    const replay = check(delivered(body, 'r-2'));
    assert.equal(replay.ok === false && replay.rule, 'signing.replayed');
  });

  it('remembers nonces across a restart, and prunes them after expiry', async () => {
    const body = await sign(shell('true'), { ttlMs: 5_000 });
    assert.deepEqual(check(delivered(body, 'p-1')), { ok: true });
    const reopened = ReplayCache.open(dir, NOW + 1_000);
    const replay = check(delivered(body, 'p-2'), NOW + 1_000, reopened);
    assert.equal(replay.ok === false && replay.rule, 'signing.replayed');
    assert.deepEqual(check(delivered(body, 'p-1'), NOW + 1_000, reopened), { ok: true });
    assert.equal(statSync(join(dir, REPLAY_CACHE_FILE)).mode & 0o777, 0o600);
    const later = ReplayCache.open(dir, NOW + 5_000 + 60_001);
    assert.equal(later.check('laptop', body.signature!.nonce, 'p-2'), 'new');
  });

  it('accepts a session turn with the resume the server adds, and no other change', async () => {
    const turn: CreateTaskBody = {
      kind: 'agent',
      spec: { agent: 'claude', prompt: 'hello' },
      sessionKey: 'room-1',
    };
    const body = await sign(turn);
    const withResume = delivered(body, 's-1');
    withResume.spec = { ...withResume.spec, resume: 'abc-123' };
    assert.deepEqual(check(withResume), { ok: true });
    const changed = delivered(body, 's-2');
    changed.spec = { ...changed.spec, resume: 'abc-123', prompt: 'other' };
    assert.equal(check(changed).ok, false);
    // Without a session key the server never injects resume, so it must be signed.
    const loose = await sign({ kind: 'agent', spec: { agent: 'claude', prompt: 'hi' } });
    const injected = delivered(loose, 's-3');
    injected.spec = { ...injected.spec, resume: 'abc-123' };
    assert.equal(check(injected).ok, false);
    // A resume the client signed cannot be changed.
    const pinned = await sign({ ...turn, spec: { ...turn.spec, resume: 'mine' } });
    const swapped = delivered(pinned, 's-4');
    swapped.spec = { ...swapped.spec, resume: 'theirs' };
    assert.equal(check(swapped).ok, false);
  });

  it('refuses a valid signature delivered to another runner, or one lacking a signed label', async () => {
    const runner = { name: 'home', labels: ['gpu'] };
    const forOther = await sign({
      kind: 'shell',
      spec: { command: 'true' },
      target: { runner: 'work' },
    });
    const verdict = checkSignedTask(delivered(forOther, 'w-1'), {
      settings,
      keys,
      cache,
      now: NOW,
      runner,
    });
    assert.equal(verdict.ok === false && verdict.rule, 'signing.wrong-runner');
    const labelled = await sign({
      kind: 'shell',
      spec: { command: 'true' },
      target: { labels: ['gpu', 'big'] },
    });
    const lacking = checkSignedTask(delivered(labelled, 'w-2'), {
      settings,
      keys,
      cache,
      now: NOW,
      runner,
    });
    assert.equal(lacking.ok === false && lacking.rule, 'signing.wrong-runner');
    const mine = await sign(shell('true'));
    assert.deepEqual(
      checkSignedTask(delivered(mine, 'w-3'), { settings, keys, cache, now: NOW, runner }),
      { ok: true },
    );
  });
});
