// Live output over real HTTP: the runner's append, long-poll reads by seq, and the SSE stream with
// Last-Event-ID resume — ordered, exactly once, woken by the append itself.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { Claim } from '../../src/protocol/runner.ts';
import type { LogPage, OutputChunk } from '../../src/protocol/output.ts';
import type { Task } from '../../src/protocol/tasks.ts';

interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
}

describe('live output', { timeout: 60_000 }, () => {
  let server: TestServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  const call = async (method: string, path: string, body?: unknown, headers = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const start = async (): Promise<Claim> => {
    const task = (await call('POST', '/v1/tasks', { kind: 'shell', spec: { command: 'x' } }))
      .json as unknown as Task;
    const claimed = await call('POST', '/v1/runner/claim', { runner: 'r1', max: 1 });
    const claim = (claimed.json.tasks as Claim[])[0]!;
    assert.equal(claim.task.id, task.id);
    return claim;
  };
  const append = (claim: Claim, chunks: OutputChunk[]) =>
    call('POST', '/v1/runner/logs', {
      taskId: claim.task.id,
      leaseToken: claim.leaseToken,
      chunks,
    });
  const line = (seq: number, data: string): OutputChunk => ({ seq, stream: 'stdout', data });
  const finish = (claim: Claim) =>
    call('POST', '/v1/runner/finish', {
      taskId: claim.task.id,
      leaseToken: claim.leaseToken,
      outcome: { status: 'succeeded', exitCode: 0 },
    });

  it('stores chunks once, refuses a stale lease, and a late viewer reads from the start', async () => {
    const claim = await start();
    assert.deepEqual((await append(claim, [line(1, 'a\n'), line(2, 'b\n')])).json, {
      storedThrough: 2,
    });
    assert.deepEqual((await append(claim, [line(2, 'b\n'), line(3, 'c\n')])).json, {
      storedThrough: 3,
    });
    const stale = await call('POST', '/v1/runner/logs', {
      taskId: claim.task.id,
      leaseToken: 'stale',
      chunks: [line(4, 'x')],
    });
    assert.equal(stale.status, 409);
    const page = (await call('GET', `/v1/tasks/${claim.task.id}/logs`)).json as unknown as LogPage;
    assert.deepEqual(
      page.chunks.map((c) => c.data),
      ['a\n', 'b\n', 'c\n'],
    );
    assert.deepEqual([page.lastSeq, page.done], [3, false]);
  });

  it('a waiting reader is woken by the append and then by the end', async () => {
    const claim = await start();
    const path = `/v1/tasks/${claim.task.id}/logs?after=0&wait=20000`;
    const waiting = call('GET', path);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await append(claim, [line(1, 'hello\n')]);
    const page = (await waiting).json as unknown as LogPage;
    assert.ok(Date.now() - started < 5_000, 'woken by the append, not by the wait ending');
    assert.deepEqual(
      page.chunks.map((c) => c.data),
      ['hello\n'],
    );
    const ending = call('GET', `/v1/tasks/${claim.task.id}/logs?after=1&wait=20000`);
    await new Promise((r) => setTimeout(r, 100));
    await finish(claim);
    const end = (await ending).json as unknown as LogPage;
    assert.deepEqual([end.chunks.length, end.done], [0, true]);
  });

  it('streams state and output as SSE, and resumes with Last-Event-ID missing and repeating nothing', async () => {
    const claim = await start();
    const id = claim.task.id;
    await append(claim, [line(1, 'one\n'), line(2, 'two\n')]);
    const first = await readSse(id, {}, (messages) =>
      messages.some((m) => m.data?.includes('two')),
    );
    const seen = first.filter((m) => m.event === 'output').map((m) => m.data);
    assert.equal(seen.length, 2);
    const resumeFrom = first.find((m) => m.data?.includes('one'))!.id!;
    await append(claim, [line(3, 'three\n')]);
    await finish(claim);
    const rest = await readSse(id, { 'last-event-id': resumeFrom }, (m) =>
      m.some((x) => x.event === 'end'),
    );
    const kinds = rest.map((m) =>
      m.event === 'output'
        ? (JSON.parse(m.data!) as { data: string }).data
        : m.event === 'state'
          ? (JSON.parse(m.data!) as { type: string }).type
          : m.event,
    );
    assert.deepEqual(kinds, ['two\n', 'three\n', 'task.completed', 'end']);
    const all = await readSse(id, {}, (m) => m.some((x) => x.event === 'end'));
    assert.deepEqual(
      all.map((m) => m.event),
      ['state', 'state', 'output', 'output', 'output', 'state', 'end'],
    );
  });

  it('answers 404 for an unknown task and 400 for a malformed Last-Event-ID', async () => {
    assert.equal((await call('GET', '/v1/tasks/nope/logs')).status, 404);
    assert.equal((await call('GET', '/v1/tasks/nope/events')).status, 404);
    const claim = await start();
    const bad = await call('GET', `/v1/tasks/${claim.task.id}/events`, undefined, {
      'last-event-id': 'yesterday',
    });
    assert.equal(bad.status, 400);
  });

  /** Reads SSE messages until `enough` says so, then closes the stream. */
  async function readSse(
    taskId: string,
    headers: Record<string, string>,
    enough: (messages: SseMessage[]) => boolean,
  ): Promise<SseMessage[]> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 10_000);
    const res = await fetch(`${server.url}/v1/tasks/${taskId}/events`, {
      headers: { authorization: `Bearer ${server.token}`, ...headers },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const messages: SseMessage[] = [];
    let buffer = '';
    try {
      for await (const part of res.body!) {
        buffer += Buffer.from(part).toString('utf8');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith(':')) continue;
          const message: SseMessage = {};
          for (const l of block.split('\n')) {
            const [field, ...rest] = l.split(': ');
            (message as Record<string, string>)[field!] = rest.join(': ');
          }
          messages.push(message);
        }
        if (enough(messages)) break;
      }
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    return messages;
  }
});
