// The runner's node:http transport: whole replies, bodies with their length, aborts, cut replies.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { nodeTransport } from '../../../src/runner/node-transport.ts';

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
        if (req.url === '/slow') return setTimeout(() => res.end('late'), 5_000);
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

  it('rejects when nothing listens', async () => {
    await assert.rejects(nodeTransport('http://127.0.0.1:1/x', init()));
  });
});
