// Fault: the server is SIGKILLed under load three times and restarted on the same database and
// port, while 200 tasks are submitted across the kills and one runner keeps running. Every task
// whose submit was acknowledged must end exactly once, none lost, and none run twice: each task
// appends its key to a marker file, and a restart must never requeue a lease that is still alive.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  api,
  countLines,
  deferCleanups,
  listAllTasks,
  report,
  startRunnerProcess,
  startServe,
  TERMINAL,
  waitFor,
  type ServerProcess,
  type TaskView,
} from '../helpers/fault.ts';

const TASKS = 200;
const KILLS = 3;
// A lease far longer than a restart (2-5 s here), so a runner that keeps heartbeating through the
// outage never loses one; if it did, maxAttempts 3 would show it as attempt 2 instead of `lost`.
const SERVER_ENV = {
  OUTPOST_LEASE_MS: '20000',
  OUTPOST_HEARTBEAT_MS: '1000',
  OUTPOST_REAP_INTERVAL_MS: '200',
};

interface Submitted {
  /** task id per key, for every acknowledged (2xx) submit */
  ids: Map<string, string>;
  /** submits that failed (server down, connection cut) and were sent again */
  retries: number;
}

/** Submits `count` tasks two at a time; each is retried with its idempotency key until a 2xx. */
async function submitAll(url: string, marker: string, count: number): Promise<Submitted> {
  const out: Submitted = { ids: new Map(), retries: 0 };
  const keys = Array.from({ length: count }, (_, i) => `task-${String(i).padStart(3, '0')}`);
  const lane = async (): Promise<void> => {
    for (let key = keys.shift(); key !== undefined; key = keys.shift()) {
      out.ids.set(key, await submitOne(url, marker, key, () => (out.retries += 1)));
      await sleep(25);
    }
  };
  await Promise.all([lane(), lane()]);
  return out;
}

async function submitOne(url: string, marker: string, key: string, onRetry: () => void) {
  const body = {
    kind: 'shell',
    spec: { command: 'echo "$TASK" >> "$MARKER"; sleep 0.2', env: { TASK: key, MARKER: marker } },
    maxAttempts: 3,
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await api<TaskView>(url, 'POST', '/v1/tasks', body, {
        headers: { 'idempotency-key': key },
        timeoutMs: 5_000,
      });
      if (res.status === 200 || res.status === 201) return res.body.id;
    } catch {
      // the server is down or died mid-request: the key makes the retry safe
    }
    if (Date.now() > deadline) throw new Error(`submit ${key} never acknowledged`);
    onRetry();
    await sleep(100);
  }
}

async function runningCount(url: string): Promise<number | undefined> {
  const res = await api<{ tasks: unknown[] }>(url, 'GET', '/v1/tasks?state=running&limit=50');
  return res.status === 200 && res.body.tasks.length > 0 ? res.body.tasks.length : undefined;
}

describe('server SIGKILLed under load', { timeout: 150_000 }, () => {
  it('ends every acknowledged task exactly once and runs none twice', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'outpost-fault-kill-'));
    const marker = join(dir, 'marker');
    const dataDir = join(dir, 'server');
    let server: ServerProcess = await startServe({ dataDir, env: SERVER_ENV });
    const { port, url } = server;
    const defer = deferCleanups(t);
    defer(() => rm(dir, { recursive: true, force: true }));
    defer(() => server.stop('SIGKILL'));
    const runner = await startRunnerProcess({
      url,
      name: 'kill-survivor',
      dir,
      env: { OUTPOST_CAPACITY: '8', OUTPOST_DRAIN_GRACE_MS: '1000' },
    });
    defer(() => runner.stop('SIGKILL'));
    const started = Date.now();
    const submitted = submitAll(url, marker, TASKS);
    const submitting = submitted.then((s) => s.ids);
    let progress = 0;
    void submitting.then(() => (progress = TASKS));
    const restartsMs: number[] = [];
    const runningAtKill: number[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      // Kill once a share of the tasks is in and some are executing (the runner holds leases).
      await waitFor(
        `marker lines before kill ${kill}`,
        () => {
          progress = Math.max(progress, countLines(marker).size);
          return progress >= (kill * TASKS) / (KILLS + 1) ? true : undefined;
        },
        60_000,
      );
      runningAtKill.push(await waitFor('a running task', () => runningCount(url), 30_000, 20));
      await server.stop('SIGKILL');
      const down = Date.now();
      await sleep(300);
      server = await startServe({ dataDir, port, env: SERVER_ENV });
      restartsMs.push(Date.now() - down);
    }
    const { ids, retries } = await submitted;
    const tasks = await waitFor(
      'every task to end',
      async () => {
        const all = await listAllTasks(url);
        return all.length >= TASKS && all.every((task) => TERMINAL.has(task.state))
          ? all
          : undefined;
      },
      90_000,
      500,
    );
    const lines = countLines(marker);
    const byId = new Map(tasks.map((task) => [task.id, task]));
    const states = new Map<string, number>();
    for (const task of tasks) states.set(task.state, (states.get(task.state) ?? 0) + 1);
    const duplicates = [...lines.values()].filter((n) => n > 1).length;
    const retried = tasks.filter((task) => task.attempt > 1).length;
    const lost = [...ids.values()].filter((id) => byId.get(id)?.state !== 'succeeded').length;
    const leaseLostLogs = runner.output().match(/lease lost/g)?.length ?? 0;
    report(t, 'server-kill', {
      tasks: TASKS,
      acknowledged: ids.size,
      kills: KILLS,
      runningAtKill: runningAtKill.join('/'),
      submitRetries: retries,
      restartMs: restartsMs.join('/'),
      states: JSON.stringify(Object.fromEntries(states)),
      lost,
      duplicates,
      retriedAttempts: retried,
      leaseLostLogs,
      totalMs: Date.now() - started,
    });

    assert.equal(ids.size, TASKS, 'every submit was acknowledged in the end');
    assert.equal(
      tasks.length,
      TASKS,
      'a retried submit (same idempotency key) made no second task',
    );
    for (const [key, id] of ids) {
      const task = byId.get(id);
      assert.equal(task?.state, 'succeeded', `${key} (${id}) ended ${task?.state}`);
      const runs = lines.get(key) ?? 0;
      assert.ok(runs >= 1, `${key} never ran`);
      // A second run is only legitimate after its lease expired and it was retried.
      assert.ok(runs <= task.attempt, `${key} ran ${runs} times in ${task.attempt} attempt(s)`);
    }
    assert.equal(retried, 0, 'a restart requeued no live lease (every task took one attempt)');
    assert.equal(leaseLostLogs, 0, 'the runner never lost a lease');
  });
});
