import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildClaudeArgs, claudeDriver } from '../../../../src/runner/agents/claude.ts';
import { HOSTILE_PROMPT, parseEvents, turn } from './parse-helpers.ts';

const SID = '6f2c1a9e-1b2c-4d3e-8f90-123456789abc';
const init = {
  type: 'system',
  subtype: 'init',
  cwd: '/w',
  session_id: SID,
  model: 'claude-opus-4-1',
  tools: ['Bash'],
};
const toolUse = {
  type: 'assistant',
  session_id: SID,
  message: {
    role: 'assistant',
    content: [
      { type: 'text', text: 'Running the tests.' },
      {
        type: 'tool_use',
        id: 't1',
        name: 'Bash',
        input: { command: 'npm test', description: 'Run tests' },
      },
    ],
  },
};
const toolResult = {
  type: 'user',
  session_id: SID,
  message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }] },
};
const answer = {
  type: 'assistant',
  session_id: SID,
  message: { role: 'assistant', content: [{ type: 'text', text: 'All green.' }] },
};
function result(extra: Record<string, unknown>) {
  return {
    type: 'result',
    subtype: 'success',
    is_error: false,
    result: 'All green.',
    session_id: SID,
    num_turns: 3,
    duration_ms: 4200,
    total_cost_usd: 0.0421,
    usage: {
      input_tokens: 10,
      output_tokens: 20,
      cache_read_input_tokens: 300,
      cache_creation_input_tokens: 40,
    },
    ...extra,
  };
}

describe('claude argv', () => {
  it('asks for stream-json with --verbose and puts the prompt last, after --', () => {
    assert.deepEqual(buildClaudeArgs(turn()), [
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--',
      'fix the flaky test',
    ]);
  });

  it('adds model, resume, permission mode and extra args before the prompt', () => {
    const args = buildClaudeArgs(
      turn({
        model: 'opus',
        resume: SID,
        mode: 'acceptEdits',
        extraArgs: ['--allowedTools', 'Bash', 'Edit'],
      }),
    );
    assert.deepEqual(args, [
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--model',
      'opus',
      '--resume',
      SID,
      '--permission-mode',
      'acceptEdits',
      '--allowedTools',
      'Bash',
      'Edit',
      '--',
      'fix the flaky test',
    ]);
  });

  it('pre-assigns a new session id only when not resuming', () => {
    assert.deepEqual(buildClaudeArgs(turn({ newSessionId: SID })).slice(4, 6), [
      '--session-id',
      SID,
    ]);
    const resumed = buildClaudeArgs(turn({ newSessionId: SID, resume: 'abc' }));
    assert.ok(!resumed.includes('--session-id'));
    assert.deepEqual(resumed.slice(4, 6), ['--resume', 'abc']);
  });

  it('passes a prompt full of shell syntax as exactly one argv element', () => {
    const args = buildClaudeArgs(turn({ prompt: HOSTILE_PROMPT }));
    assert.equal(args.at(-1), HOSTILE_PROMPT);
    assert.equal(args.filter((a) => a.includes('rm -rf')).length, 1);
    assert.equal(args.at(-2), '--');
  });
});

describe('claude stream parser', () => {
  it('reads session, model, text, tool calls, turns, cost and usage from a successful run', () => {
    const { items, report } = parseEvents(claudeDriver, [
      init,
      toolUse,
      toolResult,
      answer,
      result({}),
    ]);
    assert.deepEqual(report, {
      status: 'success',
      text: 'All green.',
      sessionId: SID,
      model: 'claude-opus-4-1',
      turns: 3,
      durationMs: 4200,
      costUsd: 0.0421,
      usage: { inputTokens: 10, outputTokens: 20, cacheReadTokens: 300, cacheCreationTokens: 40 },
    });
    assert.deepEqual(items, [
      { kind: 'note', text: `claude session ${SID} · model claude-opus-4-1` },
      { kind: 'text', text: 'Running the tests.' },
      { kind: 'tool', name: 'Bash', arg: 'npm test' },
      { kind: 'text', text: 'All green.' },
    ]);
  });

  it('counts is_error true as a provider error even when the subtype says success', () => {
    const { report } = parseEvents(claudeDriver, [
      init,
      result({ is_error: true, result: 'API Error: 529 Overloaded' }),
    ]);
    assert.equal(report.status, 'provider_error');
    assert.equal(report.errorMessage, 'API Error: 529 Overloaded');
  });

  it('needs subtype success too: error_max_turns is the turn limit, error_during_execution a provider error', () => {
    assert.equal(
      parseEvents(claudeDriver, [
        init,
        result({ subtype: 'error_max_turns', is_error: false, result: undefined }),
      ]).report.status,
      'turn_limit',
    );
    const during = parseEvents(claudeDriver, [
      init,
      result({ subtype: 'error_during_execution', result: undefined, errors: ['tool crashed'] }),
    ]);
    assert.equal(during.report.status, 'provider_error');
    assert.equal(during.report.errorMessage, 'tool crashed');
  });

  it('without a result event the run is incomplete and the last assistant text is kept', () => {
    const { report } = parseEvents(claudeDriver, [init, toolUse]);
    assert.equal(report.status, 'incomplete');
    assert.equal(report.text, 'Running the tests.');
    assert.equal(report.sessionId, SID);
  });
});
