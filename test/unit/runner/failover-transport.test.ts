// The runner's failover over several server URLs, on real loopback HTTP: requests go to the
// current server, a refused connection moves to the next (the request itself still fails, for the
// runner's retry), an HTTP error, an abort or a timeout moves nothing, and requests failing together move once.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { failoverTransport } from '../../../src/runner/failover-transport.ts';
import { nodeTransport } from '../../../src/runner/node-transport.ts';
import { OutpostClient } from '../../../src/sdk/client.ts';

interface Server {
  url: string;
  server: http.Server;
  seen: string[];
}

async function startServer(name: string, status = 200): Promise<Server> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status === 200 ? { server: name } : { error: { code: 'x' } }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen };
}

/** A loopback URL nothing listens on: a server that was there and is gone. */
async function deadUrl(): Promise<string> {
  const gone = await startServer('gone');
  gone.server.close();
  await once(gone.server, 'close');
  return gone.url;
}

const init = () => ({ method: 'GET', headers: {}, signal: new AbortController().signal });

describe('failover transport', () => {
  let a: Server;
  let b: Server;
  let dead: string;
  before(async () => {
    [a, b] = [await startServer('a'), await startServer('b')];
    dead = await deadUrl();
  });
  after(() => {
    for (const s of [a, b]) s.server.close();
  });

  const body = async (res: { text(): Promise<string> }) =>
    (JSON.parse(await res.text()) as { server: string }).server;

  it('sends to the first URL while it answers', async () => {
    const moves: string[] = [];
    const fetch = failoverTransport([a.url, b.url], nodeTransport, (from, to) => moves.push(to));
    assert.equal(await body(await fetch(`${a.url}/v1/x?q=1`, init())), 'a');
    assert.equal(await body(await fetch(`${a.url}/v1/y`, init())), 'a');
    assert.deepEqual(a.seen.slice(-2), ['/v1/x?q=1', '/v1/y']);
    assert.deepEqual(moves, []);
  });

  it('moves to the next server when one refuses, and stays there', async () => {
    const moves: [string, string][] = [];
    const fetch = failoverTransport([dead, b.url], nodeTransport, (from, to) =>
      moves.push([from, to]),
    );
    await assert.rejects(fetch(`${dead}/v1/claim`, init()), (err: Error) => {
      assert.ok(err.message.startsWith(`${dead}: `), err.message);
      return true;
    });
    assert.deepEqual(moves, [[dead, b.url]]);
    assert.equal(await body(await fetch(`${dead}/v1/claim`, init())), 'b');
    assert.equal(b.seen.at(-1), '/v1/claim');
    assert.equal(await body(await fetch(`${dead}/v1/claim`, init())), 'b');
    assert.equal(moves.length, 1);
  });

  it('goes round the list: from the last server back to the first', async () => {
    const first = await startServer('first');
    const port = new URL(first.url).port;
    const moves: string[] = [];
    const fetch = failoverTransport([first.url, dead], nodeTransport, (_, to) => moves.push(to));
    assert.equal(await body(await fetch(`${first.url}/p`, init())), 'first');
    first.server.closeAllConnections();
    first.server.close();
    await once(first.server, 'close');
    await assert.rejects(fetch(`${first.url}/p`, init()));
    await assert.rejects(fetch(`${first.url}/p`, init()));
    assert.deepEqual(moves, [dead, first.url]);
    const back = http.createServer((_, res) => res.end(JSON.stringify({ server: 'back' })));
    back.listen(Number(port), '127.0.0.1');
    await once(back, 'listening');
    try {
      assert.equal(await body(await fetch(`${first.url}/p`, init())), 'back');
    } finally {
      back.close();
    }
  });

  it('moves once when requests in flight together fail together', async () => {
    const moves: string[] = [];
    const fetch = failoverTransport([dead, a.url, b.url], nodeTransport, (_, to) => moves.push(to));
    const results = await Promise.allSettled([1, 2, 3].map(() => fetch(`${dead}/h`, init())));
    assert.ok(results.every((r) => r.status === 'rejected'));
    assert.deepEqual(moves, [a.url]);
    assert.equal(await body(await fetch(`${dead}/h`, init())), 'a');
  });

  it('stays on a server that answers with an HTTP error, and on an abort', async () => {
    const failing = await startServer('failing', 503);
    try {
      const moves: string[] = [];
      const fetch = failoverTransport([failing.url, a.url], nodeTransport, (_, to) =>
        moves.push(to),
      );
      assert.equal((await fetch(`${failing.url}/z`, init())).status, 503);
      const aborted = new AbortController();
      aborted.abort();
      const stopped = { ...init(), signal: aborted.signal };
      await assert.rejects(fetch(`${failing.url}/z`, stopped));
      assert.deepEqual(moves, []);
    } finally {
      failing.server.close();
    }
  });

  it('stays on a server slower than the request timeout', async () => {
    const silent = http.createServer(() => {});
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const moves: string[] = [];
      const fetch = failoverTransport([url, a.url], nodeTransport, (_, to) => moves.push(to));
      const timed = { method: 'GET', headers: {}, timeoutMs: 50 };
      await assert.rejects(fetch(`${url}/z`, timed), { name: 'TimeoutError' });
      assert.deepEqual(moves, []);
      assert.equal(fetch.takesTimeout, true);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('carries an SDK client to the next server, naming the one it could not reach', async () => {
    const fetch = failoverTransport([dead, a.url], nodeTransport);
    const client = new OutpostClient({ baseUrl: dead, token: 't', fetch });
    await assert.rejects(client.health(), (err: Error) => {
      assert.match(err.message, new RegExp(`${dead}: `));
      return true;
    });
    // The stand-in server's reply is not a health reply: only where the request went matters.
    await client.health().catch(() => {});
    assert.equal(a.seen.at(-1), '/health');
    // A base URL's trailing slashes are dropped; a query is kept.
    const slashed = new OutpostClient({ baseUrl: `${a.url}//`, token: 't', fetch: nodeTransport });
    await slashed.health().catch(() => {});
    assert.equal(a.seen.at(-1), '/health');
    await slashed.getTask('x', { waitMs: 5 }).catch(() => {});
    assert.equal(a.seen.at(-1), '/v1/tasks/x?wait=5');
  });
});
