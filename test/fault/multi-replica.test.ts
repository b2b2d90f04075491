// Fault: two real `outpost serve` processes on one PostgreSQL schema, three real runners with
// different labels spread over both (each given both URLs, in different orders), 1,000 tasks with
// mixed targets (runner name, labels, none), priorities and start times submitted through both
// servers. One server is SIGKILLed mid-run; its runners move to the other and the rest of the
// tasks are submitted there. Every task must run exactly once (one attempt, one completion event)
// on a runner that matches its target. Skipped without TEST_DATABASE_URL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Target } from '../../src/protocol/tasks.ts';
import { api, deferCleanups, startRunnerProcess, startServe, waitFor } from '../helpers/fault.ts';
import { createTestSchema, NO_DATABASE, TEST_DATABASE_URL } from '../helpers/postgres.ts';
import type { Daemon } from '../helpers/processes.ts';

const TASKS = 1_000;
/** Submitted before the kill, through both servers; the rest go to the survivor afterwards. */
const BEFORE_KILL = 600;
/** Succeeded tasks at which server A is killed: well into the run, well before its end. */
const KILL_AT = 250;
// A short lease, so a claim the dead server made but never delivered comes back within seconds.
const SERVER_ENV = {
  OUTPOST_LEASE_MS: '4000',
  OUTPOST_HEARTBEAT_MS: '1000',
  OUTPOST_REAP_INTERVAL_MS: '200',
};
const RUNNERS = [
  { name: 'r-cpu', labels: ['linux'], prefer: 'a' },
  { name: 'r-gpu', labels: ['linux', 'gpu'], prefer: 'b' },
  { name: 'r-arm', labels: ['arm'], prefer: 'a' },
] as const;
const LABELS_OF = new Map<string, readonly string[]>(RUNNERS.map((r) => [r.name, r.labels]));
/** Targets in turn: by name, by labels one or two runners have, by a label only one has, none. */
const TARGETS: (Target | undefined)[] = [
  { runner: 'r-cpu' },
  { labels: ['gpu'] },
  { labels: ['linux'] },
  { labels: ['arm'] },
  undefined,
  { runner: 'r-gpu', labels: ['linux'] },
];

interface TaskRow {
  id: string;
  state: string;
  runner: string | null;
  attempt: number;
  target: Target | null;
  /** bigint columns: pg returns them as strings. */
  run_at: string;
  started_at: string | null;
}

function taskBody(i: number, path: string, now: number): Record<string, unknown> {
  const target = TARGETS[i % TARGETS.length];
  return {
    kind: 'file.read',
    spec: { path },
    priority: i % 7,
    // One task in ten starts 1-3 s later, so some wait for their time across the kill.
    ...(i % 10 === 9 ? { runAt: now + 1_000 + (i % 3) * 1_000 } : {}),
    ...(target === undefined ? {} : { target }),
  };
}

/** Submits tasks [from, to) through `urls` in turn, 8 at a time, each with an idempotency key. */
async function submit(urls: string[], from: number, to: number, path: string): Promise<void> {
  let next = from;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < to; i = next++) {
      const url = urls[i % urls.length]!;
      const headers = { 'idempotency-key': `task-${i}` };
      const res = await api(url, 'POST', '/v1/tasks', taskBody(i, path, Date.now()), { headers });
      assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
}

function matches(runner: string, target: Target | null): boolean {
  if (target?.runner !== undefined && target.runner !== runner) return false;
  const has = LABELS_OF.get(runner) ?? [];
  return (target?.labels ?? []).every((label) => has.includes(label));
}

describe(
  'two servers on one PostgreSQL database, one SIGKILLed mid-run',
  { timeout: 150_000 },
  () => {
    const database = TEST_DATABASE_URL;
    if (database === undefined) {
      it('runs every task exactly once on a matching runner', { skip: NO_DATABASE });
      return;
    }

    it('runs every task exactly once on a matching runner, and loses nothing', async (t) => {
      const defer = deferCleanups(t);
      const schema = await createTestSchema(database);
      defer(() => schema.drop());
      const dir = await mkdtemp(join(tmpdir(), 'outpost-replicas-'));
      defer(() => rm(dir, { recursive: true, force: true }));
      const path = join(dir, 'input.txt');
      await writeFile(path, 'hello\n');
      const db = new pg.Client({ connectionString: schema.url });
      await db.connect();
      defer(() => db.end());
      const count = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]!.n);

      const env = { ...SERVER_ENV, OUTPOST_DATABASE_URL: schema.url };
      const start = (name: string) => startServe({ dataDir: join(dir, name), env });
      const [a, b] = await Promise.all([start('server-a'), start('server-b')]);
      defer(() => b.stop('SIGKILL'));
      defer(() => a.stop('SIGKILL'));
      const runners: Daemon[] = [];
      for (const r of RUNNERS) {
        const urls = r.prefer === 'a' ? [a.url, b.url] : [b.url, a.url];
        const runner = await startRunnerProcess({
          url: urls.join(','),
          name: r.name,
          dir,
          env: { OUTPOST_LABELS: r.labels.join(','), OUTPOST_CAPACITY: '8' },
        });
        defer(() => runner.stop('SIGKILL'));
        runners.push(runner);
      }
      const started = Date.now();

      await submit([a.url, b.url], 0, BEFORE_KILL, path);
      await waitFor(
        `${KILL_AT} succeeded tasks`,
        async () =>
          (await count("SELECT COUNT(*) AS n FROM tasks WHERE state = 'succeeded'")) >= KILL_AT
            ? true
            : undefined,
        45_000,
      );
      await a.stop('SIGKILL');
      const killedAt = Date.now();
      await submit([b.url], BEFORE_KILL, TASKS, path);
      await waitFor(
        'every task to end',
        async () =>
          (await count(`SELECT COUNT(*) AS n FROM tasks WHERE state IN
          ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost')`)) === TASKS
            ? true
            : undefined,
        60_000,
        100,
      );

      const tasks = (await db.query<TaskRow>('SELECT * FROM tasks')).rows;
      assert.equal(tasks.length, TASKS);
      for (const task of tasks) {
        assert.equal(task.state, 'succeeded', `task ${task.id} ended ${task.state}`);
        assert.equal(task.attempt, 1, `task ${task.id} took ${task.attempt} attempts`);
        assert.ok(matches(task.runner!, task.target), `${task.id} ran on ${task.runner}`);
        assert.ok(
          Number(task.started_at) >= Number(task.run_at),
          `task ${task.id} started before its runAt`,
        );
      }
      const attempts = await db.query<{ task_id: string; n: string; runner: string }>(
        `SELECT task_id, COUNT(*) AS n, MIN(runner) AS runner, MIN(status) AS status
       FROM attempts GROUP BY task_id HAVING COUNT(*) <> 1 OR MIN(status) <> 'succeeded'`,
      );
      assert.deepEqual(attempts.rows, [], 'every task has one succeeded attempt');
      const completions = await db.query(
        `SELECT t.id, COUNT(e.id) AS n FROM tasks t
       LEFT JOIN events e ON e.task_id = t.id AND e.type = 'task.completed'
       GROUP BY t.id HAVING COUNT(e.id) <> 1`,
      );
      assert.deepEqual(completions.rows, [], 'every task completed exactly once');

      // The runners that preferred A went on through B: they ran tasks submitted after the kill.
      const afterKill = tasks.filter((task) => Number(task.started_at) > killedAt);
      for (const r of RUNNERS) {
        assert.ok(
          afterKill.some((task) => task.runner === r.name),
          `${r.name} ran nothing after the kill`,
        );
      }
      for (const [i, r] of RUNNERS.entries()) {
        if (r.prefer !== 'a') continue;
        assert.match(runners[i]!.output(), /moving to the next/, `${r.name} never moved to B`);
      }
      const listed = await api<{ runners: { name: string; online: boolean }[] }>(
        b.url,
        'GET',
        '/v1/runners',
      );
      assert.deepEqual(
        listed.body.runners.map((r) => [r.name, r.online]),
        RUNNERS.map((r) => [r.name, true]).sort(),
      );
      t.diagnostic(
        `${TASKS} tasks on 2 servers and 3 runners in ${Date.now() - started} ms ` +
          `(A killed after ${killedAt - started} ms)`,
      );
    });
  },
);
