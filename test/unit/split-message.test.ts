// splitMessage: chat-sized parts at line boundaries, code fences balanced across parts, exact
// limits, CRLF, over-long lines and surrogate pairs; then properties over random answers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fenceAfter, splitMessage } from '../../src/server/callbacks/split-message.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The fence left open at the end of `part`, read on its own. */
function openFenceAtEnd(part: string) {
  let fence: ReturnType<typeof fenceAfter>;
  for (const line of part.split('\n')) fence = fenceAfter(fence, line);
  return fence;
}

const lines = (count: number, width: number) =>
  Array.from({ length: count }, (_, i) => `${i}`.padEnd(width, '.')).join('\n');

describe('splitMessage', () => {
  it('keeps a short answer whole and drops an empty one', () => {
    assert.deepEqual(splitMessage('hello\nworld'), ['hello\nworld']);
    assert.deepEqual(splitMessage(''), []);
    assert.deepEqual(splitMessage('\n  \n'), []);
  });

  it('splits 5,000 characters of lines into three parts at line boundaries', () => {
    const text = lines(50, 99); // 50 × 99 + 49 newlines = 4,999
    const parts = splitMessage(text);
    assert.equal(parts.length, 3);
    for (const part of parts) assert.ok(part.length <= 2000);
    assert.equal(parts.join('\n'), text, 'only the newlines between parts are gone');
  });

  it('fills a part to exactly 2,000 characters and no further', () => {
    assert.deepEqual(splitMessage('a'.repeat(2000)), ['a'.repeat(2000)]);
    assert.deepEqual(splitMessage('a'.repeat(2001)), ['a'.repeat(2000), 'a']);
    const twoLines = `${'a'.repeat(999)}\n${'b'.repeat(1000)}`;
    assert.deepEqual(splitMessage(twoLines), [twoLines]);
    assert.deepEqual(splitMessage(`${twoLines}b`), ['a'.repeat(999), 'b'.repeat(1001)]);
  });

  it('honours another limit', () => {
    assert.deepEqual(splitMessage('abc\ndef\nghi', 7), ['abc\ndef', 'ghi']);
  });

  it('closes an open fence at the end of a part and reopens it with its language', () => {
    const code = lines(60, 49);
    const text = `Here is the fix:\n\`\`\`ts\n${code}\n\`\`\`\nDone.`;
    const parts = splitMessage(text);
    assert.ok(parts.length >= 2);
    for (const part of parts) {
      assert.ok(part.length <= 2000);
      assert.equal(openFenceAtEnd(part), undefined, `unbalanced part:\n${part}`);
    }
    assert.ok(parts[0]!.startsWith('Here is the fix:\n```ts\n0.'));
    assert.ok(parts[0]!.endsWith('\n```'));
    assert.ok(parts[1]!.startsWith('```ts\n'));
    assert.ok(parts.at(-1)!.endsWith('\n```\nDone.'));
    const body = parts.map((p) => p.split('\n').filter((l) => !l.startsWith('```')));
    assert.deepEqual(
      body.flat(),
      text.split('\n').filter((l) => !l.startsWith('```')),
    );
  });

  it('keeps a four-backtick fence whole across parts, with its inner ``` as text', () => {
    const text = `\`\`\`\`md\n\`\`\`js\n${lines(30, 20)}\n\`\`\`\n\`\`\`\``;
    const parts = splitMessage(text, 200);
    for (const part of parts) {
      assert.ok(part.length <= 200);
      assert.equal(openFenceAtEnd(part), undefined);
    }
    assert.ok(parts[1]!.startsWith('````md\n'));
    assert.ok(parts[0]!.endsWith('\n````'));
  });

  it('puts a closing fence at the very end of a full part without an empty block', () => {
    // ```ts + 4 lines fills the part so that the closing ``` exactly reaches the limit.
    const text = `\`\`\`ts\n${'x'.repeat(10)}\n\`\`\`\nafter`;
    assert.deepEqual(splitMessage(text, 20), ['```ts\nxxxxxxxxxx\n```', 'after']);
  });

  it('moves a fence that would open empty at the end of a part to the next part', () => {
    const [a, b] = ['a'.repeat(30), 'b'.repeat(30)];
    assert.deepEqual(splitMessage(`x\n\`\`\`py\n${a}\n${b}\n\`\`\``, 40), [
      'x',
      `\`\`\`py\n${a}\n\`\`\``,
      `\`\`\`py\n${b}\n\`\`\``,
    ]);
  });

  it('treats CRLF as LF', () => {
    assert.deepEqual(splitMessage('a\r\nb\r\n'), ['a\nb\n']);
    const text = lines(50, 99);
    assert.deepEqual(splitMessage(text.replaceAll('\n', '\r\n')), splitMessage(text));
  });

  it('cuts an over-long line into full parts, after ending the part before it at its line', () => {
    const parts = splitMessage(`start\n${'x'.repeat(4500)}\nend`);
    const x = (n: number) => 'x'.repeat(n);
    assert.deepEqual(parts, ['start', x(2000), x(2000), `${x(500)}\nend`]);
  });

  it('cuts an over-long line inside a fence and keeps every part balanced', () => {
    const text = `\`\`\`\n${'y'.repeat(5000)}\n\`\`\``;
    const parts = splitMessage(text);
    assert.equal(parts.length, 3);
    for (const part of parts) {
      assert.ok(part.length <= 2000);
      assert.match(part, /^```\n/);
      assert.match(part, /\n```$/);
    }
    assert.equal(parts.map((p) => p.slice(4, -4)).join(''), 'y'.repeat(5000));
  });

  it('never cuts a surrogate pair in half', () => {
    const text = `${'a'.repeat(1999)}${'😀'.repeat(1500)}`;
    const parts = splitMessage(text);
    for (const part of parts) {
      assert.ok(part.length <= 2000);
      assert.doesNotMatch(part, LONE_SURROGATE);
    }
    assert.equal(parts[0], 'a'.repeat(1999));
    assert.equal(parts.join(''), text);
  });

  it('does not start a cut piece with backticks, which would read as a fence', () => {
    const text = `${'a'.repeat(1998)}\`\`\`\`${'b'.repeat(10)}`;
    const parts = splitMessage(text);
    assert.equal(parts.join(''), text);
    for (const part of parts.slice(1)) assert.doesNotMatch(part, /^ {0,3}`/);
  });
});

const textLine = fc
  .array(fc.constantFrom('a', 'b', 'z', ' ', '\t', 'é', '😀', '`'), { maxLength: 90 })
  .map((chars) => chars.join(''));

/** Answers made of text lines and balanced fence lines, as agents write them. */
const answer = fc
  .array(
    fc.oneof(
      { weight: 5, arbitrary: textLine },
      { weight: 1, arbitrary: fc.constantFrom('```', '```ts', '````', '```python') },
    ),
    { maxLength: 80 },
  )
  .map((rows) => rows.join('\n'));

const stripFences = (text: string) =>
  text
    .split('\n')
    .filter((line) => !/^ {0,3}`{3,}[^`]*$/.test(line))
    .join('')
    .replace(/\s/g, '');

describe('splitMessage properties', () => {
  it('parts fit, keep the content in order, never split a pair, and balance fences', () => {
    fc.assert(
      fc.property(answer, fc.integer({ min: 40, max: 300 }), (text, limit) => {
        const parts = splitMessage(text, limit);
        for (const part of parts) {
          assert.ok(part.length <= limit, `${part.length} > ${limit}`);
          assert.doesNotMatch(part, LONE_SURROGATE);
        }
        assert.equal(stripFences(parts.join('\n')), stripFences(text));
        // A part may end inside a fence only where the answer itself does: the last part.
        for (const part of parts.slice(0, -1)) assert.equal(openFenceAtEnd(part), undefined);
        if (openFenceAtEnd(text) === undefined && parts.length > 0) {
          assert.equal(openFenceAtEnd(parts.at(-1)!), undefined);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('any text at all splits into parts that fit', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3000, unit: 'binary' }), (text) => {
        for (const part of splitMessage(text, 100)) assert.ok(part.length <= 100);
      }),
      { numRuns: 200 },
    );
  });
});
