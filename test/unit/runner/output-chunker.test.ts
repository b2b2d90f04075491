// The chunker cuts at 64 KiB and on flush, never inside a UTF-8 character, and encodes each chunk
// as utf8 text only when its bytes are valid UTF-8 (and NUL-free); everything else as base64.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_CHUNK_BYTES,
  OutputChunker,
  encodeChunk,
  incompleteTail,
  wireBytes,
  type RawChunk,
} from '../../../src/runner/output-chunker.ts';

function collect(): { chunker: OutputChunker; chunks: RawChunk[] } {
  const chunks: RawChunk[] = [];
  // A chunk's bytes are a view of the chunker's reused buffer: keep a copy, as the queue does.
  return {
    chunker: new OutputChunker((c) => chunks.push({ ...c, bytes: Buffer.from(c.bytes) })),
    chunks,
  };
}

const euro = Buffer.from('€'); // e2 82 ac

describe('output chunker', () => {
  it('numbers chunks from 1 across both streams, in the order they are cut', () => {
    const { chunker, chunks } = collect();
    chunker.write('stdout', Buffer.from('a'));
    chunker.write('stderr', Buffer.from('b'));
    chunker.flush();
    chunker.write('stdout', Buffer.from('c'));
    chunker.flush();
    assert.deepEqual(
      chunks.map((c) => [c.seq, c.stream, c.bytes.toString()]),
      [
        [1, 'stdout', 'a'],
        [2, 'stderr', 'b'],
        [3, 'stdout', 'c'],
      ],
    );
    assert.equal(chunker.seq, 4);
  });

  it('cuts a full 64 KiB chunk at once and keeps the rest buffered', () => {
    const { chunker, chunks } = collect();
    chunker.write('stdout', Buffer.alloc(MAX_CHUNK_BYTES * 2 + 10, 'x'));
    assert.deepEqual(
      chunks.map((c) => c.bytes.length),
      [MAX_CHUNK_BYTES, MAX_CHUNK_BYTES],
    );
    assert.equal(chunker.bufferedBytes(), 10);
  });

  it('never cuts a 64 KiB chunk inside a character', () => {
    const { chunker, chunks } = collect();
    // 65,535 ASCII bytes then a 3-byte character straddling the 64 KiB mark.
    chunker.write('stdout', Buffer.concat([Buffer.alloc(MAX_CHUNK_BYTES - 1, 'x'), euro, euro]));
    chunker.flush(true);
    assert.equal(chunks[0]?.bytes.length, MAX_CHUNK_BYTES - 1);
    assert.ok(chunks.every((c) => encodeChunk(c).encoding === undefined));
    assert.equal(Buffer.concat(chunks.map((c) => c.bytes)).toString(), `${'x'.repeat(65_535)}€€`);
  });

  it('holds back an incomplete trailing character on a timed flush until the rest comes', () => {
    const { chunker, chunks } = collect();
    chunker.write('stdout', Buffer.concat([Buffer.from('ab'), euro.subarray(0, 2)]));
    chunker.flush();
    assert.deepEqual(
      chunks.map((c) => c.bytes.toString()),
      ['ab'],
    );
    assert.equal(chunker.bufferedBytes(), 2);
    chunker.write('stdout', euro.subarray(2));
    chunker.flush();
    assert.deepEqual(
      chunks.map((c) => c.bytes.toString()),
      ['ab', '€'],
    );
  });

  it('sends a trailing incomplete character as bytes when the stream ends', () => {
    const { chunker, chunks } = collect();
    chunker.write('stderr', euro.subarray(0, 1));
    chunker.flush(true);
    assert.deepEqual(encodeChunk(chunks[0]!), {
      seq: 1,
      stream: 'stderr',
      data: '4g==',
      encoding: 'base64',
    });
  });

  it('counts only the start of a possible character as incomplete', () => {
    assert.equal(incompleteTail(Buffer.from([0x61, 0xe2, 0x82])), 2);
    assert.equal(incompleteTail(Buffer.from([0xf0, 0x9f, 0x98])), 3);
    assert.equal(incompleteTail(euro), 0);
    assert.equal(incompleteTail(Buffer.from([0xff])), 0, '0xff never starts a character');
    assert.equal(incompleteTail(Buffer.from([0x82, 0x82, 0x82, 0x82])), 0);
    assert.equal(incompleteTail(Buffer.alloc(0)), 0);
  });

  it('encodes valid UTF-8 as text, keeping a byte order mark', () => {
    const bytes = Buffer.from('\ufeffhé €\n');
    assert.deepEqual(encodeChunk({ seq: 1, stream: 'stdout', bytes }), {
      seq: 1,
      stream: 'stdout',
      data: '\ufeffhé €\n',
    });
  });

  it('encodes invalid UTF-8, encoded surrogates and NUL bytes as base64 that decodes exactly', () => {
    for (const bytes of [
      Buffer.from([0xff, 0xfe]),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('a\0b'),
    ]) {
      const chunk = encodeChunk({ seq: 7, stream: 'stdout', bytes });
      assert.equal(chunk.encoding, 'base64');
      assert.deepEqual(Buffer.from(chunk.data, 'base64'), bytes);
    }
  });

  it('knows how many bytes a chunk takes in the JSON body without encoding it', () => {
    const anyBytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      fc.string({ unit: 'binary', maxLength: 64 }).map((t) => Buffer.from(t)),
    );
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        const chunk = encodeChunk({ seq: 1, stream: 'stdout', bytes });
        const json = chunk.encoding === 'base64' ? chunk.data : JSON.stringify(chunk.data);
        assert.equal(wireBytes({ seq: 1, stream: 'stdout', bytes }), Buffer.byteLength(json));
      }),
    );
  });

  it('reassembles any bytes written in any pieces exactly, never splitting a character', () => {
    const pieces = fc.array(fc.string({ unit: 'binary', maxLength: 8 }), { maxLength: 20 });
    fc.assert(
      fc.property(pieces, fc.array(fc.boolean()), (texts, flushes) => {
        const { chunker, chunks } = collect();
        texts.forEach((text, i) => {
          const bytes = Buffer.from(text);
          // Split each piece's bytes in two, possibly inside a character.
          const at = Math.floor(bytes.length / 2);
          chunker.write('stdout', bytes.subarray(0, at));
          if (flushes[i]) chunker.flush();
          chunker.write('stdout', bytes.subarray(at));
        });
        chunker.flush(true);
        assert.equal(Buffer.concat(chunks.map((c) => c.bytes)).toString(), texts.join(''));
        assert.ok(
          chunks.every((c) => encodeChunk(c).encoding === undefined || c.bytes.includes(0)),
        );
      }),
    );
  });
});
