// The local approval listener: loopback only, its address and secret in a 0600 file in the data
// directory, every request checked against the secret, decisions handed to the held task.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  APPROVALS_FILE,
  startLocalListener,
  type ApprovalEndpoint,
  type LocalListener,
} from '../../../../src/runner/approvals/local-listener.ts';
import {
  PendingApprovals,
  type HeldTask,
} from '../../../../src/runner/approvals/pending-approvals.ts';

const held = (taskId: string, expiresInMs = 60_000): HeldTask => ({
  taskId,
  attempt: 1,
  rule: 'commands.requireApproval[0]',
  reason: 'needs approval',
  summary: { command: 'git push' },
  heldAt: Date.now(),
  expiresAt: Date.now() + expiresInMs,
  taskNonce: null,
});

describe('local approval listener', () => {
  let dir: string;
  let pending: PendingApprovals;
  let listener: LocalListener;
  let endpoint: ApprovalEndpoint;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-listener-'));
    pending = new PendingApprovals();
    listener = await startLocalListener(join(dir, 'data'), pending);
    endpoint = JSON.parse(
      readFileSync(join(dir, 'data', APPROVALS_FILE), 'utf8'),
    ) as ApprovalEndpoint;
  });
  after(async () => {
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (path: string, secret: string, body?: object) =>
    fetch(`${endpoint.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${secret}` },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  it('listens on loopback and keeps its secret in a 0600 file in a 0700 directory', () => {
    assert.match(endpoint.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(endpoint.secret.length, 32);
    assert.equal(statSync(join(dir, 'data', APPROVALS_FILE)).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'data')).mode & 0o777, 0o700);
  });

  it('refuses a request without the right secret', async () => {
    const res = await call('/approvals', 'wrong');
    assert.equal(res.status, 401, await res.text());
    // One character off. The secret is base64url, so it ends in '_' one time in 64: a fixed
    // replacement character would then rebuild the right secret (and the approval would 404).
    const last = endpoint.secret.at(-1) === '_' ? '-' : '_';
    const nearly = endpoint.secret.slice(0, -1) + last;
    assert.notEqual(nearly, endpoint.secret);
    const decided = await call('/approvals/t1/approve', nearly, { user: 'mallory' });
    assert.equal(decided.status, 401, await decided.text());
  });

  it('lists held tasks and hands a decision to the one it names', async () => {
    const controller = new AbortController();
    const waiting = pending.wait(held('t1'), controller.signal);
    const listed = (await (await call('/approvals', endpoint.secret)).json()) as {
      approvals: HeldTask[];
    };
    assert.deepEqual(
      listed.approvals.map((h) => h.taskId),
      ['t1'],
    );
    const bad = await call('/approvals/t1/approve', endpoint.secret, { user: 'has space' });
    assert.equal(bad.status, 400);
    const res = await call('/approvals/t1/reject', endpoint.secret, { user: 'ana', reason: 'no' });
    assert.equal(res.status, 200);
    const end = await waiting;
    assert.ok(end.end === 'decided');
    assert.deepEqual(
      [end.decision.decision, end.decision.by, end.decision.source, end.decision.reason],
      ['rejected', 'local user ana', 'local', 'no'],
    );
    const gone = await call('/approvals/t1/approve', endpoint.secret, { user: 'ana' });
    assert.equal(gone.status, 404);
  });

  it('expires a held task nobody decides, and ends the wait when its attempt is aborted', async () => {
    const expired = await pending.wait(held('t2', 30), new AbortController().signal);
    assert.deepEqual(expired, { end: 'expired' });
    const controller = new AbortController();
    const waiting = pending.wait(held('t3'), controller.signal);
    controller.abort(new Error('cancelled by a client'));
    assert.deepEqual(await waiting, { end: 'aborted', why: 'cancelled by a client' });
    assert.deepEqual(pending.list(), []);
  });

  it('removes the file when it closes', async () => {
    const other = await startLocalListener(join(dir, 'other'), new PendingApprovals());
    assert.ok(existsSync(join(dir, 'other', APPROVALS_FILE)));
    await other.close();
    assert.equal(existsSync(join(dir, 'other', APPROVALS_FILE)), false);
  });
});
