// Graceful drain: closing the app answers every open long poll at once (claims empty, task waits
// with the task as it is), in-process and over real HTTP, and `outpost serve` exits 0 on SIGTERM.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildTestApp } from '../helpers/app.ts';
import { startTestServer } from '../helpers/server.ts';
import { cleanEnv, startDaemon } from '../helpers/processes.ts';
import { WaiterHub } from '../../src/server/queue/waiters.ts';
import type { Task } from '../../src/protocol/tasks.ts';

/** Resolves once `count()` reaches `n`: the polls are really waiting before the close. */
async function untilWaiting(count: () => number | Promise<number>, n: number): Promise<void> {
  for (let i = 0; i < 500 && (await count()) < n; i++) await sleep(10);
  assert.equal(await count(), n);
}

// Every poll below asks to wait 60 s; the suite's 20 s timeout fails the test if close waits them out.
describe('closing the app', { timeout: 20_000 }, () => {
  it('answers open claim polls and task waits at once, v1 and legacy', async () => {
    const t = await buildTestApp();
    const req = (method: 'GET' | 'POST', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: t.admin, ...(payload ? { payload } : {}) });
    // Targeted at a runner that never polls, so the open claim polls cannot take it.
    const target = { runner: 'nobody' };
    const created = await req('POST', '/v1/tasks', {
      kind: 'shell',
      spec: { command: 'x' },
      target,
    });
    const task = created.json<Task>();
    const polls = [
      req('POST', '/v1/runner/claim', { runner: 'r1', max: 4, waitMs: 60_000 }),
      req('GET', `/v1/tasks/${task.id}?wait=60000`),
      req('GET', '/worker/poll?wait=60000'),
      req('GET', `/tasks/${task.id}?wait=60000`),
    ];
    await untilWaiting(() => t.app.tasks.hub.count(), 4);
    await t.close();
    const [claim, wait, legacyPoll, legacyWait] = await Promise.all(polls);
    assert.deepEqual([claim!.statusCode, claim!.json()], [200, { tasks: [] }]);
    assert.equal(wait!.statusCode, 200);
    assert.deepEqual([wait!.json<Task>().id, wait!.json<Task>().state], [task.id, 'queued']);
    assert.deepEqual([legacyPoll!.statusCode, legacyPoll!.body], [200, 'null']);
    assert.deepEqual(legacyWait!.json(), { status: 'pending', message: 'Result not ready yet' });
  });

  it('answers long polls over real HTTP before the connections are closed', async () => {
    const server = await startTestServer();
    const headers = {
      authorization: `Bearer ${server.token}`,
      'content-type': 'application/json',
    };
    const claim = fetch(`${server.url}/v1/runner/claim`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ runner: 'r1', max: 1, waitMs: 60_000 }),
    });
    await untilWaiting(() => server.app.tasks.hub.count(), 1);
    await server.close();
    const res = await claim;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { tasks: [] });
  });
});

describe('WaiterHub.closeAll', () => {
  it('ends every wait as "not notified", and later waits at once', async () => {
    const hub = new WaiterHub();
    const sub = hub.subscribe('k');
    const waiting = sub.wait(60_000);
    hub.closeAll();
    assert.equal(await waiting, false);
    sub.dispose();
    const late = hub.subscribe('k');
    assert.equal(await late.wait(60_000), false);
    late.dispose();
    assert.equal(hub.count(), 0);
  });
});

describe('outpost serve on SIGTERM', { timeout: 60_000 }, () => {
  it('answers an open long poll and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-drain-'));
    const token = 'drain-token-0123456789abcdef';
    const env = cleanEnv({
      OUTPOST_TOKEN: token,
      OUTPOST_DATA_DIR: dir,
      OUTPOST_LOG_LEVEL: 'warn',
    });
    const server = await startDaemon(['serve', '--port', '0'], env, /listening on (http:\/\/\S+)/);
    try {
      const url = server.match[1]!;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const claim = fetch(`${url}/v1/runner/claim`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ runner: 'r1', max: 1, waitMs: 60_000 }),
      });
      const longPolls = async () => {
        const stats = await fetch(`${url}/v1/stats`, { headers });
        return (await stats.json()) as { longPolls: number };
      };
      await untilWaiting(async () => (await longPolls()).longPolls, 1);
      const exited = server.stop('SIGTERM');
      const res = await claim;
      assert.deepEqual([res.status, await res.json()], [200, { tasks: [] }]);
      assert.equal(await exited, 0, server.output());
    } finally {
      await server.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
