// The in-memory cap of a stream's output: the head and the tail of any bytes pushed in any pieces,
// copied as they come (the caller reuses its buffer), with one marker for what lies between.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CappedOutput } from '../../../src/runner/capped-output.ts';

/** Pushes `pieces` through one buffer that is overwritten after each push, as the runner's reads are. */
function pushReused(capped: CappedOutput, pieces: Buffer[]): void {
  const scratch = Buffer.alloc(Math.max(1, ...pieces.map((piece) => piece.length)));
  for (const piece of pieces) {
    piece.copy(scratch);
    capped.push(scratch.subarray(0, piece.length));
    scratch.fill('#');
  }
}

describe('capped output', () => {
  it('keeps the first and the last half of the cap of any pieces, from a reused buffer', () => {
    const ascii = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '\n'), maxLength: 300 });
    fc.assert(
      fc.property(
        fc.array(ascii, { maxLength: 30 }),
        fc.integer({ min: 1, max: 400 }),
        (texts, max) => {
          const capped = new CappedOutput(max);
          pushReused(
            capped,
            texts.map((text) => Buffer.from(text)),
          );
          const all = texts.join('');
          const result = capped.finish();
          assert.equal(result.bytes, all.length);
          assert.equal(result.truncated, all.length > max);
          if (!result.truncated) return assert.equal(result.text, all);
          const head = all.slice(0, Math.ceil(max / 2));
          const tail = all.slice(all.length - (max - head.length));
          const omitted = all.length - head.length - tail.length;
          const marker = `\n[outpost: ${omitted} bytes of output left out here; the head and the tail are kept]\n`;
          assert.equal(result.text, head + marker + tail);
        },
      ),
    );
  });

  it('keeps the exact tail after its ring has wrapped many times', () => {
    const capped = new CappedOutput(1000);
    const lines = Array.from({ length: 50_000 }, (_, i) => `${i + 1}\n`);
    // Pieces of varying size, so the ring's end lands everywhere.
    const pieces: Buffer[] = [];
    for (let at = 0; at < lines.length; at += 1 + (at % 37)) {
      pieces.push(Buffer.from(lines.slice(at, at + 1 + (at % 37)).join('')));
    }
    pushReused(capped, pieces);
    const all = lines.join('');
    const text = capped.finish().text;
    assert.ok(text.startsWith(all.slice(0, 500)));
    assert.ok(text.endsWith(`]\n${all.slice(-500)}`));
  });
});
