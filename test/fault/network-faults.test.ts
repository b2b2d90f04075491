// Fault: a TCP proxy between the runner and the server delays, black-holes and resets connections
// at random for 5 s, then heals. The runner must recover by itself, every task must run exactly
// once (marker file), and it must not spin: requests through the proxy stay within a sane bound,
// and an idle runner sends (almost) nothing.
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
  type TaskView,
} from '../helpers/fault.ts';
import { seededRandom, startTcpProxy } from '../helpers/tcp-proxy.ts';

const TASKS = 30;
const CHAOS_MS = 5_000;
const FAULTS = {
  resetRate: 0.2,
  dropRate: 0.15,
  maxDropMs: 1_500,
  delayRate: 0.25,
  maxDelayMs: 800,
};
// The lease outlasts the chaos, so a heartbeat stuck on a black-holed connection until the heal
// does not cost it; a claim whose reply was cut is requeued when its lease ends (attempt 2).
const SERVER_ENV = {
  OUTPOST_LEASE_MS: '10000',
  OUTPOST_HEARTBEAT_MS: '1000',
  OUTPOST_REAP_INTERVAL_MS: '200',
};
/**
 * Requests the runner may send for 30 tasks over ~15-25 s: claims, heartbeats (1/s), finishes,
 * and retries backing off from 100 ms. A busy loop sends thousands.
 */
const MAX_REQUESTS = 600;
/** An idle runner holds one long poll (30 s); over 2 s it may open one more at most. */
const MAX_IDLE_REQUESTS = 2;

describe('network faults between runner and server', { timeout: 120_000 }, () => {
  it('recovers by itself and runs every task exactly once, without a busy loop', async (t) => {
    const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
    const dir = await mkdtemp(join(tmpdir(), 'outpost-fault-net-'));
    const marker = join(dir, 'marker');
    const defer = deferCleanups(t);
    defer(() => rm(dir, { recursive: true, force: true }));
    const server = await startServe({ dataDir: join(dir, 'server'), env: SERVER_ENV });
    defer(() => server.stop('SIGKILL'));
    const proxy = await startTcpProxy(server.port, seededRandom(seed));
    defer(() => proxy.close());
    const runner = await startRunnerProcess({
      url: proxy.url,
      name: 'behind-proxy',
      dir,
      env: { OUTPOST_CAPACITY: '4' },
    });
    defer(() => runner.stop('SIGKILL'));

    proxy.setFaults(FAULTS);
    const chaosStarted = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const key = `net-${i}`;
      const body = {
        kind: 'shell',
        spec: {
          command: 'echo "$TASK" >> "$MARKER"; sleep 0.3',
          env: { TASK: key, MARKER: marker },
        },
        maxAttempts: 3,
      };
      const res = await api<TaskView>(server.url, 'POST', '/v1/tasks', body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      ids.push(res.body.id);
    }
    await sleep(CHAOS_MS - (Date.now() - chaosStarted));
    proxy.heal();
    const atHeal = { ...proxy.stats };
    const healedAt = Date.now();
    const url = server.url;
    const tasks = await waitFor(
      'every task to end',
      async () => {
        const all = await listAllTasks(url);
        return all.length === TASKS && all.every((task) => TERMINAL.has(task.state))
          ? all
          : undefined;
      },
      60_000,
      200,
    );
    const recoveredMs = Date.now() - healedAt;
    const atEnd = { ...proxy.stats };
    await sleep(2_000);
    const idleRequests = proxy.stats.requests - atEnd.requests;

    const lines = countLines(marker);
    const runs = [...lines.values()];
    report(t, 'network', {
      seed,
      tasks: TASKS,
      chaosMs: CHAOS_MS,
      faultsInChaos: `resets:${atHeal.resets} drops:${atHeal.drops} delays:${atHeal.delays}`,
      requestsInChaos: atHeal.requests,
      requests: atEnd.requests,
      connections: atEnd.connections,
      idleRequestsIn2s: idleRequests,
      healToAllDoneMs: recoveredMs,
      succeeded: tasks.filter((task) => task.state === 'succeeded').length,
      ranTwice: runs.filter((n) => n > 1).length,
      secondAttempts: tasks.filter((task) => task.attempt > 1).length,
    });
    for (const task of tasks)
      assert.equal(task.state, 'succeeded', `${task.id} ended ${task.state}`);
    for (let i = 0; i < TASKS; i++) {
      assert.equal(lines.get(`net-${i}`), 1, `net-${i} ran ${lines.get(`net-${i}`) ?? 0} times`);
    }
    assert.ok(atEnd.requests < MAX_REQUESTS, `${atEnd.requests} requests: a busy loop?`);
    assert.ok(idleRequests <= MAX_IDLE_REQUESTS, `${idleRequests} requests while idle`);
  });
});

describe('a claim reply cut by the network', { timeout: 60_000 }, () => {
  it('does not cost the task its only attempt: it runs once and succeeds', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'outpost-fault-cut-'));
    const marker = join(dir, 'marker');
    const defer = deferCleanups(t);
    defer(() => rm(dir, { recursive: true, force: true }));
    const env = { OUTPOST_LEASE_MS: '2000', OUTPOST_HEARTBEAT_MS: '500' };
    const server = await startServe({ dataDir: join(dir, 'server'), env });
    defer(() => server.stop('SIGKILL'));
    const proxy = await startTcpProxy(server.port, seededRandom(1));
    defer(() => proxy.close());
    // The runner's first claim long-polls; the server leases it the task and replies, and the
    // reply is lost on the way. maxAttempts is left at its default (1).
    proxy.cutNextReply('/v1/runner/claim');
    const runner = await startRunnerProcess({ url: proxy.url, name: 'cut-off', dir });
    defer(() => runner.stop('SIGKILL'));
    await sleep(300);
    const body = {
      kind: 'shell',
      spec: { command: 'echo once >> "$MARKER"', env: { MARKER: marker } },
    };
    const created = await api<TaskView>(server.url, 'POST', '/v1/tasks', body);
    assert.equal(created.status, 201);
    const done = await waitFor(
      'the task to end',
      async () => {
        const seen = (await api<TaskView>(server.url, 'GET', `/v1/tasks/${created.body.id}`)).body;
        return TERMINAL.has(seen.state) ? seen : undefined;
      },
      30_000,
      100,
    );
    report(t, 'cut-claim-reply', {
      resets: proxy.stats.resets,
      state: done.state,
      attempt: done.attempt,
      runs: countLines(marker).get('once') ?? 0,
    });
    assert.equal(proxy.stats.resets, 1, 'the claim reply was cut');
    assert.equal(done.state, 'succeeded', `ended ${done.state}: ${done.outcome?.error?.message}`);
    assert.equal(countLines(marker).get('once'), 1);
  });
});
