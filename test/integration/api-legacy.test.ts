// The legacy OpenClaw worker routes through inject(), against compat.md: request and response
// shapes, exact error messages, lenient clamping, the legacy lease and the fixed old defects.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import { taskKey } from '../../src/server/queue/waiters.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { Task } from '../../src/protocol/tasks.ts';

interface Created {
  taskId: string;
  message: string;
}
interface LegacyResult {
  taskId: string;
  stdout: string;
  stderr: string;
  exitCode: number;
  error: string | null;
  completedAt: number | null;
}
interface LegacyStats {
  queue: {
    total: number;
    byStatus: { pending: number; running: number; completed: number; failed: number };
    unconsumedResults: number;
    taskRetentionMs: number;
    resultRetentionMs: number;
  };
}
type LegacyTaskObject = Record<string, unknown> & { id: string; type: string };

/** Request helpers over one app; `t` is read at call time so each suite can bring its own. */
function client(getApp: () => TestApp) {
  const post = (url: string, payload?: unknown, headers?: Record<string, string>) => {
    const t = getApp();
    const body = payload === undefined ? {} : { payload: payload as object };
    return t.app.inject({ method: 'POST', url, headers: headers ?? t.admin, ...body });
  };
  const get = (url: string, headers?: Record<string, string>) => {
    const t = getApp();
    return t.app.inject({ method: 'GET', url, headers: headers ?? t.admin });
  };
  const create = async (payload: unknown) => (await post('/tasks', payload)).json<Created>().taskId;
  const v1Task = async (id: string) => (await get(`/v1/tasks/${id}`)).json<Task>();
  const poll = async (wait = 1000) => {
    const res = await get(`/worker/poll?wait=${wait}`);
    assert.equal(res.statusCode, 200);
    return res.json<LegacyTaskObject | null>();
  };
  const stats = async () => (await get('/tasks/stats')).json<LegacyStats>().queue;
  /** Claims everything runnable for a v1 runner, so earlier tests cannot leak into a poll. */
  const drain = async () => {
    for (;;) {
      const res = await post('/v1/runner/claim', { runner: 'drain', max: 256, waitMs: 0 });
      if (res.json<{ tasks: Claim[] }>().tasks.length === 0) return;
    }
  };
  return { post, get, create, v1Task, poll, stats, drain };
}

describe('legacy client routes', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp()));
  after(() => t.close());
  const { post, get, create, v1Task, poll, drain } = client(() => t);

  it('POST /tasks creates a shell task with the old reply and a trimmed command', async () => {
    const res = await post('/tasks', { command: '  echo hi  ' });
    assert.equal(res.statusCode, 200);
    const body = res.json<Created>();
    assert.deepEqual(Object.keys(body).sort(), ['message', 'taskId']);
    assert.equal(body.message, 'Task created, waiting for worker');
    assert.match(body.taskId, /^[0-9a-f-]{36}$/);
    const task = await v1Task(body.taskId);
    assert.equal(task.kind, 'shell');
    assert.deepEqual(task.spec, { command: 'echo hi' });
    assert.equal(task.timeoutMs, 30_000);
  });

  it('POST /tasks refuses a blank, missing or non-string command and stores nothing', async () => {
    const before = await t.store.countTasks();
    for (const payload of [
      {},
      { command: '' },
      { command: '   ' },
      { command: 42 },
      { command: ['ls'] },
      { command: null },
      [],
      '"ls"',
    ]) {
      const res = await post('/tasks', payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.deepEqual(res.json(), { error: 'command is required' });
    }
    const none = await t.app.inject({ method: 'POST', url: '/tasks', headers: t.admin });
    assert.deepEqual(none.json(), { error: 'command is required' });
    assert.deepEqual(await t.store.countTasks(), before);
  });

  it('POST /tasks parses timeout leniently and clamps it to 1000..86400000', async () => {
    const cases: [unknown, number][] = [
      [undefined, 30_000],
      [5000, 5000],
      ['5000', 5000],
      [5000.9, 5000],
      [5, 1000],
      [-1, 1000],
      [1e12, 86_400_000],
      ['abc', 30_000],
      [null, 30_000],
      [{}, 30_000],
    ];
    for (const [timeout, expected] of cases) {
      const id = await create({ command: 'true', timeout });
      assert.equal((await v1Task(id)).timeoutMs, expected, `timeout ${JSON.stringify(timeout)}`);
    }
  });

  it('answers malformed JSON with the legacy error and parses JSON sent without a JSON content type', async () => {
    const before = await t.store.countTasks();
    const bad = await t.app.inject({
      method: 'POST',
      url: '/tasks',
      headers: { ...t.admin, 'content-type': 'application/json' },
      payload: '{"command":',
    });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json(), { error: 'Invalid JSON body' });
    assert.deepEqual(await t.store.countTasks(), before);
    for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/tasks',
        headers: { ...t.admin, 'content-type': type },
        payload: '{"command":"echo curl","timeout":2000}',
      });
      assert.equal(res.statusCode, 200, type);
      const task = await v1Task(res.json<Created>().taskId);
      assert.deepEqual(task.spec, { command: 'echo curl' });
      assert.equal(task.timeoutMs, 2000);
    }
  });

  it('answers a missing or wrong token with 401 {"error":"Unauthorized"}', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer not-the-token-0123456789' },
    ];
    for (const headers of attempts) {
      const res = await post('/tasks', { command: 'true' }, headers);
      assert.equal(res.statusCode, 401);
      assert.deepEqual(res.json(), { error: 'Unauthorized' });
      const read = await get('/tasks/stats', headers);
      assert.deepEqual(read.json(), { error: 'Unauthorized' });
    }
  });

  it('GET /tasks/:id says a pending task is not ready and an unknown one is not found', async () => {
    const id = await create({ command: 'true' });
    const res = await get(`/tasks/${id}`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'pending', message: 'Result not ready yet' });
    const unknown = await get('/tasks/00000000-0000-0000-0000-000000000000');
    assert.equal(unknown.statusCode, 404);
    assert.deepEqual(unknown.json(), { error: 'Task not found' });
  });

  it('answers ids the router cannot take (bad escapes, very long) in the legacy error shape', async () => {
    const long = await get(`/tasks/${'a'.repeat(200)}`);
    assert.equal(long.statusCode, 404);
    assert.deepEqual(long.json(), { error: 'Task not found' });
    for (const url of ['/tasks/%zz', `/tasks/${'a'.repeat(1000)}`]) {
      const res = await get(url);
      assert.equal(res.statusCode, 400, url);
      assert.deepEqual(Object.keys(res.json<object>()), ['error']);
      assert.equal(typeof res.json<{ error: unknown }>().error, 'string');
    }
  });

  it('GET /tasks/:id?wait=abc falls back to no wait and answers at once', async () => {
    const id = await create({ command: 'true' });
    const started = Date.now();
    const res = await get(`/tasks/${id}?wait=abc`);
    assert.deepEqual(res.json(), { status: 'pending', message: 'Result not ready yet' });
    assert.ok(Date.now() - started < 5000);
  });

  it('GET /tasks/:id?wait=999999 waits (clamped) and is woken by the result, which stays readable', async () => {
    await drain();
    const id = await create({ command: 'echo done' });
    const waiting = get(`/tasks/${id}?wait=999999`);
    while (t.app.tasks.hub.count(taskKey(id)) === 0) await new Promise((r) => setImmediate(r));
    const polled = await poll();
    assert.equal(polled?.id, id);
    const running = (await get(`/tasks/${id}`)).json<unknown>();
    assert.deepEqual(running, { status: 'running', message: 'Result not ready yet' });
    const report = {
      taskId: id,
      stdout: 'done\n',
      stderr: 'warn\n',
      exitCode: 0,
      error: null,
      duration: 12,
    };
    assert.deepEqual((await post('/worker/result', report)).json(), { success: true });
    const res = await waiting;
    assert.equal(res.statusCode, 200);
    const result = res.json<LegacyResult>();
    assert.deepEqual(
      { ...result, completedAt: typeof result.completedAt },
      {
        taskId: id,
        stdout: 'done\n',
        stderr: 'warn\n',
        exitCode: 0,
        error: null,
        completedAt: 'number',
      },
    );
    // The old server deleted the result on the first read; a second reader now gets it too.
    const again = await get(`/tasks/${id}`);
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json(), result);
  });

  it('POST /files/read, /files/write and /files/edit create file tasks with the old replies', async () => {
    const read = await post('/files/read', { path: '/tmp/a.txt' });
    assert.deepEqual(
      { ...read.json<Created>(), taskId: '' },
      { taskId: '', message: 'File read task created' },
    );
    const readTask = await v1Task(read.json<Created>().taskId);
    assert.equal(readTask.kind, 'file.read');
    assert.deepEqual(readTask.spec, { path: '/tmp/a.txt' });

    const write = await post('/files/write', {
      path: '/tmp/b.txt',
      content: 'aGk=',
      encoding: 'base64',
    });
    assert.equal(write.json<Created>().message, 'File write task created');
    const writeTask = await v1Task(write.json<Created>().taskId);
    assert.deepEqual(writeTask.spec, { path: '/tmp/b.txt', content: 'aGk=', encoding: 'base64' });
    const utf8 = await post('/files/write', { path: '/tmp/c.txt', content: '', encoding: 'utf8' });
    assert.equal(utf8.statusCode, 200);
    const plain = await post('/files/write', { path: '/tmp/c.txt', content: 'x' });
    assert.deepEqual((await v1Task(plain.json<Created>().taskId)).spec, {
      path: '/tmp/c.txt',
      content: 'x',
    });

    const edit = await post('/files/edit', {
      path: '/tmp/d.txt',
      old_string: 'a',
      new_string: '$&b',
      replace_all: true,
    });
    assert.equal(edit.json<Created>().message, 'File edit task created');
    const editTask = await v1Task(edit.json<Created>().taskId);
    assert.equal(editTask.kind, 'file.edit');
    assert.deepEqual(editTask.spec, {
      path: '/tmp/d.txt',
      oldString: 'a',
      newString: '$&b',
      replaceAll: true,
    });
    const single = await post('/files/edit', {
      path: '/tmp/d.txt',
      old_string: 'a',
      new_string: '',
    });
    assert.equal((await v1Task(single.json<Created>().taskId)).spec.replaceAll, false);
  });

  it('refuses bad file requests with the exact old messages and stores nothing', async () => {
    const before = await t.store.countTasks();
    const cases: [string, unknown, string][] = [
      ['/files/read', {}, 'path is required'],
      ['/files/read', { path: '' }, 'path is required'],
      ['/files/read', { path: 7 }, 'path is required'],
      ['/files/write', { path: '/tmp/x' }, 'path and content are required'],
      ['/files/write', { content: 'x' }, 'path and content are required'],
      ['/files/write', { path: '/tmp/x', content: 5 }, 'path and content are required'],
      [
        '/files/edit',
        { path: '/tmp/x', old_string: 'a' },
        'path, old_string, new_string are required',
      ],
      [
        '/files/edit',
        { path: '/tmp/x', new_string: 'b' },
        'path, old_string, new_string are required',
      ],
      [
        '/files/edit',
        { old_string: 'a', new_string: 'b' },
        'path, old_string, new_string are required',
      ],
    ];
    for (const [url, payload, error] of cases) {
      const res = await post(url, payload);
      assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)}`);
      assert.deepEqual(res.json(), { error });
    }
    // Booleans must be booleans: the old server read "false" as true.
    for (const replace_all of ['false', 'true', 0, 1, null]) {
      const res = await post('/files/edit', {
        path: '/tmp/x',
        old_string: 'a',
        new_string: 'b',
        replace_all,
      });
      assert.equal(res.statusCode, 400, JSON.stringify(replace_all));
      assert.match(res.json<{ error: string }>().error, /replace_all/);
    }
    for (const encoding of ['latin1', 'UTF8', 1, null]) {
      const res = await post('/files/write', { path: '/tmp/x', content: 'x', encoding });
      assert.equal(res.statusCode, 400, JSON.stringify(encoding));
      assert.match(res.json<{ error: string }>().error, /encoding/);
    }
    assert.deepEqual(await t.store.countTasks(), before);
  });
});

describe('legacy stats', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp()));
  after(() => t.close());
  const { post, get, create, stats, poll } = client(() => t);

  it('GET /tasks/stats counts tasks by legacy status and unread results as they move', async () => {
    const empty = {
      total: 0,
      byStatus: { pending: 0, running: 0, completed: 0, failed: 0 },
      unconsumedResults: 0,
    };
    const start = await stats();
    assert.deepEqual(
      { total: start.total, byStatus: start.byStatus, unconsumedResults: start.unconsumedResults },
      empty,
    );

    // Ids created in the same millisecond may poll in either order, so follow what the poll hands out.
    const ids = [
      await create({ command: 'a' }),
      await create({ command: 'b' }),
      await create({ command: 'c' }),
    ];
    assert.deepEqual((await stats()).byStatus, { pending: 3, running: 0, completed: 0, failed: 0 });

    const first = (await poll())?.id ?? '';
    assert.ok(ids.includes(first));
    assert.deepEqual((await stats()).byStatus, { pending: 2, running: 1, completed: 0, failed: 0 });
    await post('/worker/result', { taskId: first, stdout: 'ok', stderr: '', exitCode: 0 });
    const second = (await poll())?.id ?? '';
    assert.ok(ids.includes(second) && second !== first);
    await post('/worker/result', {
      taskId: second,
      stdout: '',
      stderr: 'boom',
      exitCode: 2,
      error: 'Command failed',
    });
    let now = await stats();
    assert.equal(now.total, 3);
    assert.deepEqual([now.taskRetentionMs, now.resultRetentionMs], [7 * 86_400_000, 86_400_000]);
    assert.deepEqual(now.byStatus, { pending: 1, running: 0, completed: 1, failed: 1 });
    assert.equal(now.unconsumedResults, 2);

    const failed = (await get(`/tasks/${second}`)).json<LegacyResult>();
    assert.equal(failed.exitCode, 2);
    assert.equal(failed.stderr, 'boom');
    assert.equal(failed.error, 'Command failed');
    await get(`/tasks/${second}`);
    now = await stats();
    assert.equal(
      now.unconsumedResults,
      1,
      'a second read of the same result consumes nothing more',
    );

    const third = ids.find((id) => id !== first && id !== second) ?? '';
    await post(`/v1/tasks/${third}/cancel`, {});
    now = await stats();
    assert.deepEqual(now.byStatus, { pending: 0, running: 0, completed: 1, failed: 2 });
  });
});

describe('legacy worker routes', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp()));
  after(() => t.close());
  const { post, get, create, v1Task, poll, stats, drain } = client(() => t);

  it('GET /worker/poll hands out a command task object and leases it for timeout plus margin', async () => {
    await drain();
    const id = await create({ command: 'echo hi', timeout: 5000 });
    const task = await poll();
    assert.ok(task);
    const { createdAt, startedAt, ...rest } = task;
    assert.deepEqual(rest, {
      id,
      type: 'command',
      status: 'running',
      completedAt: null,
      command: 'echo hi',
      timeout: 5000,
    });
    assert.equal(typeof createdAt, 'number');
    assert.equal(typeof startedAt, 'number');
    const stored = await v1Task(id);
    assert.equal(stored.state, 'running');
    assert.equal(stored.runner, 'legacy-worker');
    assert.equal(stored.leaseExpiresAt, (stored.startedAt ?? 0) + 5000 + 30_000);
  });

  it('GET /worker/poll hands out file tasks with the old payload field names', async () => {
    await drain();
    const read = (await post('/files/read', { path: '/tmp/r.txt' })).json<Created>().taskId;
    const write = (
      await post('/files/write', { path: '/tmp/w.txt', content: 'aGk=', encoding: 'base64' })
    ).json<Created>().taskId;
    const edit = (
      await post('/files/edit', {
        path: '/tmp/e.txt',
        old_string: 'a',
        new_string: 'b',
        replace_all: true,
      })
    ).json<Created>().taskId;
    const polled = new Map<string, LegacyTaskObject>();
    for (let i = 0; i < 3; i++) {
      const task = await poll();
      assert.ok(task);
      polled.set(task.id, task);
    }
    const pick = (id: string, keys: string[]) =>
      Object.fromEntries(keys.map((k) => [k, polled.get(id)?.[k]]));
    assert.deepEqual(pick(read, ['type', 'status', 'path']), {
      type: 'file-read',
      status: 'running',
      path: '/tmp/r.txt',
    });
    assert.deepEqual(pick(write, ['type', 'path', 'content', 'encoding']), {
      type: 'file-write',
      path: '/tmp/w.txt',
      content: 'aGk=',
      encoding: 'base64',
    });
    assert.deepEqual(pick(edit, ['type', 'path', 'oldString', 'newString', 'replaceAll']), {
      type: 'file-edit',
      path: '/tmp/e.txt',
      oldString: 'a',
      newString: 'b',
      replaceAll: true,
    });
  });

  it('GET /worker/poll answers JSON null when the (clamped) wait ends empty', async () => {
    await drain();
    const started = Date.now();
    const res = await get('/worker/poll?wait=1');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.equal(res.body, 'null');
    // wait=1 is clamped up to 1000 ms; checked loosely, the machine may be slow but never faster.
    assert.ok(Date.now() - started >= 900);
  });

  it('does not hand a legacy poller tasks it cannot express, which a v1 runner still claims', async () => {
    await drain();
    const kinds = [
      { kind: 'shell', spec: { command: ['echo', 'argv'] } },
      { kind: 'shell', spec: { command: 'pwd', cwd: '/tmp' } },
      { kind: 'file.list', spec: { path: '/tmp' } },
    ];
    const ids: string[] = [];
    for (const body of kinds) ids.push((await post('/v1/tasks', body)).json<Task>().id);
    assert.equal(await poll(), null);
    for (const id of ids) assert.equal((await v1Task(id)).state, 'queued');
    const claimed = (await post('/v1/runner/claim', { runner: 'v1', max: 10 })).json<{
      tasks: Claim[];
    }>().tasks;
    assert.deepEqual(claimed.map((c) => c.task.id).sort(), [...ids].sort());
  });

  it('POST /worker/result records the result, which GET /tasks/:id and /v1/tasks/:id then show', async () => {
    await drain();
    const ok = await create({ command: 'echo ok' });
    await poll();
    const res = await post('/worker/result', {
      taskId: ok,
      stdout: 'ok\n',
      stderr: '',
      exitCode: 0,
      error: null,
      duration: 40,
      extra: 'x',
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { success: true });
    const result = (await get(`/tasks/${ok}?wait=1000`)).json<LegacyResult>();
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, 'ok\n');
    assert.equal(result.error, null);
    const v1 = await v1Task(ok);
    assert.equal(v1.state, 'succeeded');
    assert.equal(v1.outcome?.stdout, 'ok\n');

    const bad = await create({ command: 'false' });
    await poll();
    await post('/worker/result', {
      taskId: bad,
      stdout: '',
      stderr: 'nope',
      exitCode: 1,
      error: 'Command failed: false',
    });
    const failed = (await get(`/tasks/${bad}`)).json<LegacyResult>();
    assert.deepEqual(
      [failed.exitCode, failed.stderr, failed.error],
      [1, 'nope', 'Command failed: false'],
    );
    assert.equal((await v1Task(bad)).state, 'failed');
    assert.ok((await stats()).byStatus.failed >= 1);
  });

  it('POST /worker/result refuses a missing taskId, an unknown task and a task no legacy poller holds', async () => {
    await drain();
    for (const payload of [{}, { taskId: '' }, { taskId: 5 }, { stdout: 'x' }]) {
      const res = await post('/worker/result', payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.deepEqual(res.json(), { error: 'taskId is required' });
    }
    const unknown = await post('/worker/result', {
      taskId: '00000000-0000-0000-0000-000000000000',
      exitCode: 0,
    });
    assert.equal(unknown.statusCode, 404);
    assert.deepEqual(unknown.json(), { error: 'Task not found' });

    const queued = await create({ command: 'true' });
    const notPolled = await post('/worker/result', { taskId: queued, exitCode: 0 });
    assert.equal(notPolled.statusCode, 409);
    assert.equal(typeof notPolled.json<{ error: unknown }>().error, 'string');
    assert.equal((await v1Task(queued)).state, 'queued');

    const [claim] = (await post('/v1/runner/claim', { runner: 'v1', max: 1 })).json<{
      tasks: Claim[];
    }>().tasks;
    assert.equal(claim?.task.id, queued);
    const v1Held = await post('/worker/result', { taskId: queued, exitCode: 0 });
    assert.equal(v1Held.statusCode, 409);
    assert.equal((await v1Task(queued)).state, 'running');

    const done = await create({ command: 'true' });
    await poll();
    assert.equal((await post('/worker/result', { taskId: done, exitCode: 0 })).statusCode, 200);
    const twice = await post('/worker/result', { taskId: done, exitCode: 3 });
    assert.equal(twice.statusCode, 409);
    assert.equal((await v1Task(done)).outcome?.exitCode, 0);
  });

  it('POST /worker/event records the event, requires a type and refuses server-owned types', async () => {
    const res = await post('/worker/event', {
      type: 'callback.sent',
      taskId: 'abc',
      details: { channel: 'c1', attempts: 1 },
    });
    assert.equal(res.statusCode, 200);
    const body = res.json<{ success: boolean; event: Record<string, unknown> }>();
    assert.equal(body.success, true);
    assert.equal(body.event.type, 'callback.sent');
    assert.equal(body.event.taskId, 'abc');
    assert.deepEqual(body.event.details, { channel: 'c1', attempts: 1 });
    for (const payload of [{}, { type: '' }, { type: '  ' }, { type: 3 }]) {
      const bad = await post('/worker/event', payload);
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(bad.json(), { error: 'type is required' });
    }
    const forged = await post('/worker/event', { type: 'task.completed', taskId: 'abc' });
    assert.equal(forged.statusCode, 400);
    assert.deepEqual(forged.json(), {
      error: 'type task.completed is recorded by the server itself',
    });
  });

  it('answers malformed JSON on a worker route with the legacy error', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/worker/result',
      headers: { ...t.admin, 'content-type': 'application/json' },
      payload: '{"taskId":"x",',
    });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { error: 'Invalid JSON body' });
  });
});
