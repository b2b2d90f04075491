// Fault: a running task whose command started a child, a background orphan, a grandchild that
// ignores SIGTERM and an escapee that called setsid (and also ignores SIGTERM) is cancelled.
// The task must end `cancelled` with no process of its tree alive. Every process writes its pid.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  api,
  deferCleanups,
  isAlive,
  report,
  startRunnerProcess,
  startServe,
  TERMINAL,
  waitFor,
  type TaskView,
} from '../helpers/fault.ts';

const ROLES = ['main', 'child', 'orphan', 'middle', 'stubborn-grandchild', 'setsid-escapee'];

/** Scripts of the tree: each records "<role> <pid>" and then sleeps as that same pid (exec). */
function writeScripts(dir: string): void {
  const leaf = 'echo "$2 $$" >> "$1"; exec sleep 60\n';
  const stubborn = `trap '' TERM; ${leaf}`;
  const middle =
    'echo "middle $$" >> "$1"; sh "$DIR/stubborn.sh" "$1" stubborn-grandchild & wait\n';
  const main = [
    'echo "main $$" >> "$1"',
    'sh "$DIR/leaf.sh" "$1" child &',
    // A double fork: the subshell exits at once, so the orphan is re-parented but keeps the group.
    '( sh "$DIR/leaf.sh" "$1" orphan & )',
    'sh "$DIR/middle.sh" "$1" &',
    // setsid leaves the task's process group and session; only its environment still says whose it is.
    'setsid sh "$DIR/stubborn.sh" "$1" setsid-escapee &',
    'wait',
  ].join('\n');
  writeFileSync(join(dir, 'leaf.sh'), leaf);
  writeFileSync(join(dir, 'stubborn.sh'), stubborn);
  writeFileSync(join(dir, 'middle.sh'), middle);
  writeFileSync(join(dir, 'main.sh'), `${main}\n`);
}

function readPids(file: string): Map<string, number> {
  const pids = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return pids;
  }
  for (const line of text.split('\n')) {
    const [role, pid] = line.split(' ');
    if (role && pid) pids.set(role, Number(pid));
  }
  return pids;
}

describe('cancel of a task with a process tree', { timeout: 90_000 }, () => {
  it('ends cancelled with no process of the tree alive', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'outpost-fault-cancel-'));
    const pidFile = join(dir, 'pids');
    const defer = deferCleanups(t);
    defer(() => rm(dir, { recursive: true, force: true }));
    let pids = new Map<string, number>();
    defer(() => {
      for (const pid of pids.values()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    });
    writeScripts(dir);
    // Cancels reach the runner with its next heartbeat: 500 ms here instead of the 10 s default.
    const serverEnv = { OUTPOST_LEASE_MS: '5000', OUTPOST_HEARTBEAT_MS: '500' };
    const server = await startServe({ dataDir: join(dir, 'server'), env: serverEnv });
    // A 1 s grace between TERM and KILL keeps the test short; the default is 5 s.
    defer(() => server.stop('SIGKILL'));
    const runner = await startRunnerProcess({
      url: server.url,
      name: 'canceller',
      dir,
      env: { OUTPOST_KILL_GRACE_MS: '1000' },
    });
    defer(() => runner.stop('SIGKILL'));
    const body = {
      kind: 'shell',
      spec: { command: 'sh "$DIR/main.sh" "$PIDS"', env: { DIR: dir, PIDS: pidFile } },
      timeoutMs: 120_000,
    };
    const created = await api<TaskView>(server.url, 'POST', '/v1/tasks', body);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    pids = await waitFor(
      'the whole tree to start',
      () => {
        const seen = readPids(pidFile);
        return ROLES.every((r) => seen.has(r)) ? seen : undefined;
      },
      20_000,
    );
    assert.deepEqual(
      ROLES.filter((r) => !isAlive(pids.get(r) ?? 0)),
      [],
      'the tree is running',
    );

    const cancelledAt = Date.now();
    const cancel = await api<TaskView>(server.url, 'POST', `/v1/tasks/${id}/cancel`);
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    const done = await waitFor(
      'the task to end',
      async () => {
        const seen = (await api<TaskView>(server.url, 'GET', `/v1/tasks/${id}`)).body;
        return TERMINAL.has(seen.state) ? seen : undefined;
      },
      30_000,
    );
    const endedMs = Date.now() - cancelledAt;
    // The runner reports only after the tree is gone; allow a moment for the kernel to reap.
    const alive = await waitFor(
      'the tree to be gone',
      () => {
        const left = ROLES.filter((r) => isAlive(pids.get(r) ?? 0));
        return left.length === 0 ? left : undefined;
      },
      3_000,
    ).catch(() => ROLES.filter((r) => isAlive(pids.get(r) ?? 0)));
    report(t, 'cancel-tree', {
      processes: pids.size,
      cancelToEndMs: endedMs,
      state: done.state,
      aliveAfter: alive.length === 0 ? 'none' : alive.join(','),
    });
    assert.equal(done.state, 'cancelled');
    assert.deepEqual(alive, [], 'no process of the tree is alive');
  });
});
