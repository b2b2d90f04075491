import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildGeminiArgs, geminiDriver } from '../../../../src/runner/agents/gemini.ts';
import { HOSTILE_PROMPT, parseEvents, turn } from './parse-helpers.ts';

const SID = 'c5c1a2f0-39f2-4b6a-9d7e-0a1b2c3d4e5f';
const at = '2025-10-10T12:00:00.000Z';
const events = [
  { type: 'init', timestamp: at, session_id: SID, model: 'gemini-2.5-pro' },
  { type: 'message', timestamp: at, role: 'user', content: 'fix it' },
  { type: 'message', timestamp: at, role: 'assistant', content: 'Let me ', delta: true },
  { type: 'message', timestamp: at, role: 'assistant', content: 'look.', delta: true },
  {
    type: 'tool_use',
    timestamp: at,
    tool_name: 'read_file',
    tool_id: 'r1',
    parameters: { absolute_path: '/w/a.ts' },
  },
  { type: 'tool_result', timestamp: at, tool_id: 'r1', status: 'success', output: '...' },
  { type: 'message', timestamp: at, role: 'assistant', content: 'Done.', delta: true },
  {
    type: 'result',
    timestamp: at,
    status: 'success',
    stats: {
      total_tokens: 30,
      input_tokens: 20,
      output_tokens: 10,
      cached: 5,
      input: 15,
      duration_ms: 900,
      tool_calls: 1,
    },
  },
];

describe('gemini argv', () => {
  it('puts the prompt in --prompt=, one element, and never resumes "latest"', () => {
    assert.deepEqual(
      buildGeminiArgs(turn({ model: 'gemini-2.5-flash', mode: 'auto_edit', resume: SID })),
      [
        '--prompt=fix the flaky test',
        '--output-format',
        'stream-json',
        '-m',
        'gemini-2.5-flash',
        '--approval-mode',
        'auto_edit',
        '--resume',
        SID,
      ],
    );
  });

  it('keeps a prompt full of shell syntax (or starting with a dash) in one element', () => {
    const args = buildGeminiArgs(turn({ prompt: HOSTILE_PROMPT, extraArgs: ['--yolo'] }));
    assert.equal(args[0], `--prompt=${HOSTILE_PROMPT}`);
    assert.equal(args.filter((a) => a.includes('rm -rf')).length, 1);
    assert.equal(buildGeminiArgs(turn({ prompt: '-v' }))[0], '--prompt=-v');
    assert.equal(args.at(-1), '--yolo');
  });
});

describe('gemini stream parser', () => {
  it('assembles the assistant deltas into the answer and reads stats', () => {
    const { items, report } = parseEvents(geminiDriver, events);
    assert.deepEqual(report, {
      status: 'success',
      text: 'Let me look.\n\nDone.',
      sessionId: SID,
      model: 'gemini-2.5-pro',
      durationMs: 900,
      usage: { inputTokens: 20, outputTokens: 10, cacheReadTokens: 5 },
    });
    assert.deepEqual(items, [
      { kind: 'note', text: `gemini session ${SID} · model gemini-2.5-pro` },
      { kind: 'text', text: 'Let me ', delta: true },
      { kind: 'text', text: 'look.', delta: true },
      { kind: 'tool', name: 'read_file', arg: '/w/a.ts' },
      { kind: 'text', text: 'Done.', delta: true },
    ]);
  });

  it('a result with status error is a provider error with its message', () => {
    const { report } = parseEvents(geminiDriver, [
      events[0]!,
      { type: 'error', timestamp: at, severity: 'warning', message: 'slow down' },
      {
        type: 'result',
        timestamp: at,
        status: 'error',
        error: { type: 'ApiError', message: 'quota exceeded' },
      },
    ]);
    assert.equal(report.status, 'provider_error');
    assert.equal(report.errorMessage, 'quota exceeded');
  });

  it('an error event with no result is a provider error; a warning alone is not', () => {
    const errored = parseEvents(geminiDriver, [
      events[0]!,
      { type: 'error', timestamp: at, severity: 'error', message: 'boom' },
    ]);
    assert.equal(errored.report.status, 'provider_error');
    assert.equal(errored.report.errorMessage, 'boom');
    const warned = parseEvents(geminiDriver, [
      events[0]!,
      { type: 'error', timestamp: at, severity: 'warning', message: 'hm' },
    ]);
    assert.equal(warned.report.status, 'incomplete');
  });
});
