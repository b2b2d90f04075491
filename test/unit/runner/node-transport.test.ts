// The runner's HTTP transport: whole replies, bodies with their length, aborts, cut replies,
// connections kept and reused, closed when the server says so, and header values that would split
// the request refused.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { nodeTransport } from '../../../src/runner/node-transport.ts';
import { AppError } from '../../../src/protocol/errors.ts';
import { OutpostClient } from '../../../src/sdk/client.ts';

describe('node:http transport', () => {
  let server: http.Server;
  let base: string;
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url === '/cut') {
          res.writeHead(200, { 'content-length': '100' });
          res.write('{"partial":');
          setTimeout(() => res.socket?.destroy(), 10);
          return;
        }
        if (req.url?.startsWith('/slow')) return setTimeout(() => res.end('late'), 5_000);
        if (req.url === '/chunked') {
          res.write('{"parts":');
          return setTimeout(() => res.end('[1,2]}'), 5);
        }
        if (req.url === '/port/close') res.setHeader('connection', 'close');
        if (req.url?.startsWith('/port')) return res.end(String(req.socket.remotePort));
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const init = (extra: object = {}) => ({
    method: 'POST',
    headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
    signal: new AbortController().signal,
    ...extra,
  });

  it('sends the body and headers and returns the status and the whole reply', async () => {
    const body = JSON.stringify({ text: 'héllo' });
    const res = await nodeTransport(`${base}/echo`, init({ body }));
    assert.equal(res.status, 201);
    assert.deepEqual(JSON.parse(await res.text()), { method: 'POST', body, auth: 'Bearer x' });
  });

  it('reads a chunked reply', async () => {
    const res = await nodeTransport(`${base}/chunked`, init({ method: 'GET' }));
    assert.deepEqual(JSON.parse(await res.text()), { parts: [1, 2] });
  });

  it('reuses one connection for requests in turn, and not one the server closes', async () => {
    const port = async (path = '/port') => {
      const res = await nodeTransport(`${base}${path}`, init({ method: 'GET' }));
      return res.text();
    };
    const first = await port();
    assert.equal(await port(), first);
    const [a, b] = await Promise.all([port(), port()]);
    assert.notEqual(a, b, 'requests at the same time take a connection each');
    const closed = await port('/port/close');
    const [c, d] = await Promise.all([port(), port()]);
    assert.ok(![c, d].includes(closed), 'the connection the server closed is not used again');
    assert.ok([c, d].includes(closed === a ? b : a), 'the other one is');
  });

  it("does not reuse a connection past the server's keep-alive hint, less a second", async () => {
    // A hint of 1 s leaves no time to reuse it: each request needs a connection of its own.
    const accepted: net.Socket[] = [];
    const raw = net.createServer((socket) => {
      accepted.push(socket);
      socket.on('data', () =>
        socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\n{}'),
      );
    });
    raw.listen(0, '127.0.0.1');
    await once(raw, 'listening');
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/x`;
    try {
      for (let i = 0; i < 3; i++) await nodeTransport(url, init({ method: 'GET' }));
      assert.equal(accepted.length, 3);
    } finally {
      for (const socket of accepted) socket.destroy();
      raw.close();
    }
  });

  it('does not reuse a connection the server ended after its reply', async () => {
    const accepted: net.Socket[] = [];
    const raw = net.createServer((socket) => {
      accepted.push(socket);
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}'));
    });
    raw.listen(0, '127.0.0.1');
    await once(raw, 'listening');
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/x`;
    try {
      for (let i = 0; i < 3; i++) {
        const res = await nodeTransport(url, init({ method: 'GET' }));
        assert.equal(await res.text(), '{}');
        // Time for the server's FIN to arrive (a request sent before it would be lost, as with
        // node:http's Agent: the runner's retry then sends it again).
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(accepted.length, 3);
    } finally {
      for (const socket of accepted) socket.destroy();
      raw.close();
    }
  });

  it('refuses a header value that would split the request', async () => {
    const headers = { authorization: 'Bearer x\r\nx-evil: 1' };
    await assert.rejects(nodeTransport(`${base}/echo`, init({ headers })), TypeError);
  });

  it('rejects when the connection closes before the reply is complete', async () => {
    await assert.rejects(nodeTransport(`${base}/cut`, init()));
  });

  it('rejects at once when aborted', async () => {
    const controller = new AbortController();
    const pending = nodeTransport(`${base}/slow`, init({ signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    const started = Date.now();
    await assert.rejects(pending);
    assert.ok(Date.now() - started < 2_000);
  });

  it('rejects with a TimeoutError when the whole reply takes longer than timeoutMs', async () => {
    const slow = nodeTransport(`${base}/slow`, init({ signal: undefined, timeoutMs: 50 }));
    await assert.rejects(slow, { name: 'TimeoutError' });
    // The connection's timer, re-armed by a later request, does not cut that one short.
    const res = await nodeTransport(`${base}/echo`, init({ signal: undefined, timeoutMs: 50 }));
    assert.equal(res.status, 201);
  });

  it('keeps time for the SDK, which reports a timeout as unavailable', async () => {
    const client = new OutpostClient({
      baseUrl: `${base}/slow`,
      token: 't',
      fetch: nodeTransport,
      requestTimeoutMs: 50,
    });
    await assert.rejects(client.health(), (err: unknown) => {
      assert.ok(err instanceof AppError && err.code === 'unavailable');
      assert.match(err.message, /no reply within 50 ms/);
      return true;
    });
  });

  it('rejects when nothing listens', async () => {
    await assert.rejects(nodeTransport('http://127.0.0.1:1/x', init()));
  });
});
