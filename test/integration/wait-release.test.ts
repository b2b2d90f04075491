// A client that leaves a long poll releases its waiter at once, over real connections: a create
// that waits for its task, a read that waits, and a claim poll. Answered waits release theirs too.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { QUEUE_KEY, taskKey } from '../../src/server/queue/waiters.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

/** Sends a request and leaves it open; `leave()` drops the connection without an answer. */
function openPoll(method: string, path: string, body?: unknown) {
  const req = request(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
  });
  req.on('error', () => undefined);
  req.end(body === undefined ? undefined : JSON.stringify(body));
  return { leave: () => req.destroy() };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const hub = () => server.app.tasks.hub;
const queued = { kind: 'shell', spec: { command: ['true'] }, target: { runner: 'nobody' } };

describe('a long poll whose client leaves', () => {
  it('releases a create that waits for its task', async () => {
    const before = hub().count();
    const poll = openPoll('POST', '/v1/tasks?wait=30000', queued);
    await until(() => hub().count() > before, 'the create to wait');
    poll.leave();
    await until(() => hub().count() === before, 'the wait to be released');
  });

  it('releases a read that waits', async () => {
    const created = await server.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { authorization: `Bearer ${server.token}` },
      payload: queued,
    });
    const id = created.json<{ id: string }>().id;
    const poll = openPoll('GET', `/v1/tasks/${id}?wait=30000`);
    await until(() => hub().count(taskKey(id)) === 1, 'the read to wait');
    poll.leave();
    await until(() => hub().count(taskKey(id)) === 0, 'the wait to be released');
  });

  it('releases a claim poll, which hands out nothing', async () => {
    const body = { runner: 'r-leaving', max: 1, kinds: ['file.read'], waitMs: 30_000 };
    const poll = openPoll('POST', '/v1/runner/claim', body);
    await until(() => hub().count(QUEUE_KEY) === 1, 'the claim to wait');
    poll.leave();
    await until(() => hub().count(QUEUE_KEY) === 0, 'the poll to be released');
  });
});
