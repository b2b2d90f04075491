import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, parseJsonObject } from '../../../../src/runner/agents/json-lines.ts';
import { oneLine, ProgressWriter, shortArg } from '../../../../src/runner/agents/progress.ts';

describe('LineSplitter', () => {
  it('joins lines split across chunks, even inside a UTF-8 character', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('{"a":"é€"}\n{"b":1}\npartial');
    for (let i = 0; i < bytes.length; i += 3) splitter.push(bytes.subarray(i, i + 3));
    assert.deepEqual(lines, ['{"a":"é€"}', '{"b":1}']);
    splitter.end();
    assert.deepEqual(lines.at(-1), 'partial');
  });

  it('skips a line longer than its limit and goes on with the next', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((l) => lines.push(l), 8);
    splitter.push(Buffer.from('0123456'));
    splitter.push(Buffer.from('789abc\nshort\n'));
    assert.deepEqual(lines, ['short']);
    assert.equal(splitter.skipped, 1);
  });

  it('parses only JSON objects', () => {
    assert.deepEqual(parseJsonObject(' {"type":"x"} '), { type: 'x' });
    assert.equal(parseJsonObject('[1]'), undefined);
    assert.equal(parseJsonObject('Loaded cached credentials.'), undefined);
    assert.equal(parseJsonObject('{broken'), undefined);
  });
});

describe('progress lines', () => {
  it('names a tool call by its most telling argument, on one line of at most 100 characters', () => {
    assert.equal(shortArg({ description: 'Run tests', command: 'npm test' }), 'npm test');
    assert.equal(shortArg({ file_path: '/w/src/a.ts', old_string: 'x' }), '/w/src/a.ts');
    assert.equal(shortArg({ todos: [1] }), '{"todos":[1]}');
    const long = shortArg({ command: `echo ${'x'.repeat(300)}\nsecond line` });
    assert.equal(Array.from(long).length, 100);
    assert.ok(long.endsWith('…') && !long.includes('\n'));
    assert.equal(oneLine('a\n\n  b\tc', 10), 'a b c');
  });

  it('writes text, tool calls and notes as whole lines, and streamed text as it comes', () => {
    let out = '';
    const writer = new ProgressWriter((text) => (out += text));
    writer.add([
      { kind: 'note', text: 'claude session s1' },
      { kind: 'text', text: 'Hel', delta: true },
      { kind: 'text', text: 'lo', delta: true },
      { kind: 'tool', name: 'Bash', arg: 'npm test' },
      { kind: 'text', text: 'Done.' },
      { kind: 'text', text: 'tail', delta: true },
    ]);
    writer.end();
    assert.equal(out, '· claude session s1\nHello\n→ Bash: npm test\nDone.\ntail\n');
  });
});
