// The runner transport's reply parser: every framing a server or proxy may use, fed in pieces.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplyParser, type ParsedReply } from '../../../src/runner/http-reply-parser.ts';

/** Feeds `text` one piece at a time, as a socket might deliver it; returns the reply, if complete. */
function feed(
  text: string,
  pieceBytes: number,
  parser = new ReplyParser(),
): ParsedReply | undefined {
  const bytes = Buffer.from(text);
  let reply: ParsedReply | undefined;
  for (let at = 0; at < bytes.length; at += pieceBytes) {
    assert.equal(reply, undefined, 'complete before the last piece');
    reply = parser.push(bytes.subarray(at, at + pieceBytes));
  }
  return reply;
}

describe('reply parser', () => {
  const body = '{"a":"é"}';
  const sized = `HTTP/1.1 201 Created\r\nContent-Length: ${Buffer.byteLength(body)}\r\nKeep-Alive: timeout=72\r\n\r\n${body}`;

  it('reads a reply framed by content-length, whole or a byte at a time', () => {
    for (const piece of [1, 7, 1_000]) {
      const reply = feed(sized, piece);
      assert.equal(reply?.status, 201);
      assert.equal(reply.body.toString(), body);
      assert.equal(reply.reusable, true);
      assert.equal(reply.keepAliveMs, 72_000);
    }
  });

  it('decodes a chunked body with extensions and trailers', () => {
    const text =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '4;ext=1\r\n{"a"\r\n5\r\n:[1]}\r\n0\r\nX-Trailer: y\r\n\r\n';
    for (const piece of [1, 3, 1_000]) {
      const reply = feed(text, piece);
      assert.equal(reply?.body.toString(), '{"a":[1]}');
      assert.equal(reply.reusable, true);
    }
  });

  it('skips informational heads and reads the final one', () => {
    const reply = feed('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n', 1_000);
    assert.equal(reply?.status, 204);
    assert.equal(reply.body.length, 0);
  });

  it('reads a body without a length until the connection closes, and never reuses it', () => {
    const parser = new ReplyParser();
    assert.equal(feed('HTTP/1.0 200 OK\r\n\r\nhello', 2, parser), undefined);
    const reply = parser.end();
    assert.equal(reply?.body.toString(), 'hello');
    assert.equal(reply.reusable, false);
  });

  it('does not reuse a connection the server says it closes', () => {
    const reply = feed(
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}',
      1_000,
    );
    assert.equal(reply?.reusable, false);
  });

  it('counts a reply cut before its length as incomplete', () => {
    const parser = new ReplyParser();
    assert.equal(
      feed('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"a"', 1_000, parser),
      undefined,
    );
    assert.equal(parser.end(), undefined);
  });

  it('refuses malformed replies and bytes past the reply', () => {
    const bad = [
      'SSH-2.0-OpenSSH\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{}',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
    ];
    for (const text of bad) assert.throws(() => feed(text, 1_000), Error, text);
  });

  it('refuses a head or chunk line that never ends, and a chunk longer than its size', () => {
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    const endless = 'a'.repeat(70 * 1024);
    assert.throws(() => feed(`HTTP/1.1 200 OK\r\nX: ${endless}`, 8_192), /head is too large/);
    assert.throws(() => feed(`${chunked}1${endless}`, 8_192), /chunk header is too large/);
    const long = `${chunked}2\r\nabc\r\n0\r\n\r\n`;
    assert.throws(() => feed(long, 1_000), /a chunk is longer than its size/);
  });
});
