// Fault: a runner is SIGKILLed mid-task. Its lease expires (2 s here, reaped every 100 ms), so the
// task is requeued as attempt 2 and a second runner completes it, or it ends `lost` when it had a
// single attempt; a late result under the dead lease is refused with 409 lease_lost. The runners
// have different names, so the requeue comes from lease expiry alone, whatever hello does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  api,
  isAlive,
  report,
  startRunnerProcess,
  startServe,
  TERMINAL,
  waitFor,
  type ServerProcess,
  type TaskView,
} from '../helpers/fault.ts';

const LEASE_MS = 2_000;
const SERVER_ENV = {
  OUTPOST_LEASE_MS: String(LEASE_MS),
  OUTPOST_HEARTBEAT_MS: '500',
  OUTPOST_REAP_INTERVAL_MS: '100',
};
const T = { timeout: 60_000 };

interface ClaimView {
  task: TaskView;
  attempt: number;
  leaseToken: string;
  leaseExpiresAt: number;
}

describe('runner SIGKILLed mid-task', { timeout: 150_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  const orphans: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outpost-fault-runner-'));
    server = await startServe({ dataDir: join(dir, 'server'), env: SERVER_ENV });
  });
  after(async () => {
    for (const pgid of orphans) killGroup(pgid);
    await server?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  const getTask = async (id: string): Promise<TaskView> =>
    (await api<TaskView>(server.url, 'GET', `/v1/tasks/${id}`)).body;

  /** A task whose first attempt records its process group and sleeps; a later one says "second". */
  async function submitSleeper(name: string, maxAttempts: number, target?: string) {
    const first = join(dir, `${name}.first`);
    const pgidFile = join(dir, `${name}.pgid`);
    const command =
      'if [ -e "$FIRST" ]; then echo second; else touch "$FIRST"; echo $$ > "$PGID"; exec sleep 60; fi';
    const body = {
      kind: 'shell',
      spec: { command, env: { FIRST: first, PGID: pgidFile } },
      maxAttempts,
      timeoutMs: 120_000,
      ...(target ? { target: { runner: target } } : {}),
    };
    const res = await api<TaskView>(server.url, 'POST', '/v1/tasks', body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { id: res.body.id, pgidFile };
  }

  /** Starts a runner, waits until it runs the task, SIGKILLs it; returns when it died. */
  async function killRunnerMidTask(name: string, task: { id: string; pgidFile: string }) {
    const runner = await startRunnerProcess({ url: server.url, name, dir });
    await waitFor(
      'the task to start',
      () => (existsSync(task.pgidFile) ? true : undefined),
      20_000,
    );
    const running = await getTask(task.id);
    assert.equal(running.state, 'running');
    await runner.stop('SIGKILL');
    const pgid = Number(readFileSync(task.pgidFile, 'utf8').trim());
    orphans.push(pgid);
    return { diedAt: Date.now(), pgid };
  }

  it('requeues the task when its lease expires and a second runner completes it', T, async (t) => {
    const task = await submitSleeper('requeue', 2);
    const { diedAt, pgid } = await killRunnerMidTask('doomed', task);
    const requeued = await waitFor(
      'the requeue',
      async () => {
        const seen = await getTask(task.id);
        return seen.state === 'running' ? undefined : seen;
      },
      LEASE_MS + 10_000,
      20,
    );
    // Nothing kills a dead runner's children: attempt 1's process is still there (an orphan).
    const orphanAlive = isAlive(pgid);
    killGroup(pgid);
    assert.equal(requeued.state, 'queued');
    assert.equal(requeued.attempt, 1);
    const rescuer = await startRunnerProcess({ url: server.url, name: 'rescuer', dir });
    t.after(() => rescuer.stop('SIGKILL'));
    const done = await waitFor(
      'attempt 2 to end',
      async () => {
        const seen = await getTask(task.id);
        return TERMINAL.has(seen.state) ? seen : undefined;
      },
      30_000,
    );
    report(t, 'runner-kill', {
      leaseMs: LEASE_MS,
      deathToRequeueMs: requeued.updatedAt - diedAt,
      orphanOfAttempt1Alive: orphanAlive,
      finalState: done.state,
      attempt: done.attempt,
    });
    assert.equal(done.state, 'succeeded');
    assert.equal(done.attempt, 2);
    assert.equal(done.outcome?.stdout, 'second\n');
    assert.ok(requeued.updatedAt - diedAt <= LEASE_MS + 5_000, 'requeued about one lease later');
  });

  it('ends the task lost when the killed runner used its only attempt', T, async (t) => {
    const task = await submitSleeper('lost', 1, 'doomed-once');
    const { diedAt, pgid } = await killRunnerMidTask('doomed-once', task);
    killGroup(pgid);
    const done = await waitFor(
      'the task to end',
      async () => {
        const seen = await getTask(task.id);
        return TERMINAL.has(seen.state) ? seen : undefined;
      },
      LEASE_MS + 10_000,
    );
    report(t, 'runner-kill-lost', { deathToLostMs: done.updatedAt - diedAt, state: done.state });
    assert.equal(done.state, 'lost');
    assert.equal(done.attempt, 1);
    assert.equal(done.outcome?.error?.kind, 'lost');
  });

  /**
   * A fake runner: claims over HTTP and acknowledges the claim as a real runner does before it
   * starts the task, then "dies" (never heartbeats again).
   */
  async function claimAs(runner: string): Promise<ClaimView> {
    const body = { runner, max: 1, waitMs: 5_000 };
    const res = await api<{ tasks: ClaimView[] }>(server.url, 'POST', '/v1/runner/claim', body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [claim] = res.body.tasks;
    assert.ok(claim, 'a task was claimed');
    const leases = [{ taskId: claim.task.id, leaseToken: claim.leaseToken }];
    const ack = await api(server.url, 'POST', '/v1/runner/heartbeat', { runner, leases });
    assert.equal(ack.status, 200);
    return claim;
  }

  const finish = (claim: ClaimView, stdout: string) =>
    api<{ error?: { code: string; message: string } }>(server.url, 'POST', '/v1/runner/finish', {
      taskId: claim.task.id,
      leaseToken: claim.leaseToken,
      outcome: { status: 'succeeded', exitCode: 0, stdout },
    });

  it("refuses the dead runner's late result with 409 lease_lost", T, async (t) => {
    const body = {
      kind: 'shell',
      spec: { command: 'true' },
      maxAttempts: 2,
      target: { runner: 'ghost' },
    };
    const created = await api<TaskView>(server.url, 'POST', '/v1/tasks', body);
    assert.equal(created.status, 201);
    const dead = await claimAs('ghost');
    const requeued = await waitFor(
      'the requeue',
      async () => {
        const seen = await getTask(created.body.id);
        return seen.state === 'queued' ? seen : undefined;
      },
      LEASE_MS + 10_000,
      20,
    );
    const lateWhileQueued = await finish(dead, 'late');
    assert.equal(lateWhileQueued.status, 409);
    assert.equal(lateWhileQueued.body.error?.code, 'lease_lost');
    const live = await claimAs('ghost');
    assert.equal(live.attempt, 2);
    const lateWhileRunning = await finish(dead, 'late');
    assert.equal(lateWhileRunning.status, 409);
    assert.equal(lateWhileRunning.body.error?.code, 'lease_lost');
    assert.equal((await finish(live, 'on time')).status, 200);
    const lateAfterEnd = await finish(dead, 'late');
    assert.equal(lateAfterEnd.status, 409);
    assert.equal(lateAfterEnd.body.error?.code, 'lease_lost');
    const done = await getTask(created.body.id);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.outcome?.stdout, 'on time', 'the late result changed nothing');
    report(t, 'late-result', {
      claimToRequeueMs: requeued.updatedAt - (dead.leaseExpiresAt - LEASE_MS),
      lateStatuses: [lateWhileQueued, lateWhileRunning, lateAfterEnd]
        .map((r) => r.status)
        .join('/'),
    });
  });

  it('refuses a late result for a task that ended lost', T, async () => {
    const body = { kind: 'shell', spec: { command: 'true' }, target: { runner: 'ghost-once' } };
    const created = await api<TaskView>(server.url, 'POST', '/v1/tasks', body);
    const dead = await claimAs('ghost-once');
    await waitFor(
      'the task to end lost',
      async () => {
        const seen = await getTask(created.body.id);
        return seen.state === 'lost' ? seen : undefined;
      },
      LEASE_MS + 10_000,
    );
    const late = await finish(dead, 'late');
    assert.equal(late.status, 409);
    assert.equal(late.body.error?.code, 'lease_lost');
    assert.equal((await getTask(created.body.id)).state, 'lost');
  });
});

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}
