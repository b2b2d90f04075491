import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildCodexArgs, codexDriver, unwrapShell } from '../../../../src/runner/agents/codex.ts';
import { HOSTILE_PROMPT, parseEvents, turn } from './parse-helpers.ts';

const TID = '0199a213-81c0-7800-8aa1-bbab2a035a53';
const command = {
  id: 'item_1',
  type: 'command_execution',
  command: "bash -lc 'npm test'",
  aggregated_output: '',
  exit_code: null,
  status: 'in_progress',
};
const events = [
  { type: 'thread.started', thread_id: TID },
  { type: 'turn.started' },
  { type: 'item.completed', item: { id: 'item_0', type: 'reasoning', text: '**Thinking**' } },
  { type: 'item.started', item: command },
  {
    type: 'item.completed',
    item: { ...command, exit_code: 0, status: 'completed', aggregated_output: 'ok' },
  },
  {
    type: 'item.completed',
    item: {
      id: 'item_2',
      type: 'file_change',
      changes: [
        { path: 'src/a.ts', kind: 'update' },
        { path: 'b.ts', kind: 'add' },
      ],
      status: 'completed',
    },
  },
  { type: 'item.completed', item: { id: 'item_3', type: 'agent_message', text: 'Looking.' } },
  { type: 'item.completed', item: { id: 'item_4', type: 'agent_message', text: 'Fixed it.' } },
  {
    type: 'turn.completed',
    usage: { input_tokens: 100, cached_input_tokens: 60, output_tokens: 7 },
  },
];

describe('codex argv', () => {
  it('runs exec --json, skips the git check outside a repo, and ends with -- prompt', () => {
    assert.deepEqual(buildCodexArgs(turn()), ['exec', '--json', '--', 'fix the flaky test']);
    assert.deepEqual(
      buildCodexArgs(
        turn({
          inGitRepo: false,
          model: 'gpt-5',
          mode: 'workspace-write',
          extraArgs: ['-c', 'x=1'],
        }),
      ),
      [
        'exec',
        '--json',
        '--model',
        'gpt-5',
        '--sandbox',
        'workspace-write',
        '--skip-git-repo-check',
        '-c',
        'x=1',
        '--',
        'fix the flaky test',
      ],
    );
  });

  it('resumes with the options again, before `resume <id>`', () => {
    assert.deepEqual(buildCodexArgs(turn({ resume: TID, model: 'gpt-5', mode: 'read-only' })), [
      'exec',
      '--json',
      '--model',
      'gpt-5',
      '--sandbox',
      'read-only',
      'resume',
      TID,
      '--',
      'fix the flaky test',
    ]);
  });

  it('passes a prompt full of shell syntax as exactly one argv element', () => {
    const args = buildCodexArgs(turn({ prompt: HOSTILE_PROMPT, resume: TID }));
    assert.equal(args.at(-1), HOSTILE_PROMPT);
    assert.equal(args.filter((a) => a.includes('rm -rf')).length, 1);
  });
});

describe('codex stream parser', () => {
  it('takes the thread id as session, the last agent message as answer and sums usage', () => {
    const { items, report } = parseEvents(codexDriver, events);
    assert.deepEqual(report, {
      status: 'success',
      text: 'Fixed it.',
      sessionId: TID,
      turns: 1,
      usage: { inputTokens: 100, outputTokens: 7, cacheReadTokens: 60 },
    });
    assert.deepEqual(items, [
      { kind: 'note', text: `codex session ${TID}` },
      { kind: 'tool', name: 'shell', arg: 'npm test' },
      { kind: 'tool', name: 'edit', arg: 'src/a.ts, b.ts' },
      { kind: 'text', text: 'Looking.' },
      { kind: 'text', text: 'Fixed it.' },
    ]);
  });

  it('turn.failed is a provider error carrying its message', () => {
    const { report } = parseEvents(codexDriver, [
      events[0]!,
      { type: 'error', message: 'Reconnecting... 1/5' },
      { type: 'turn.failed', error: { message: "The 'gpt-x' model is not supported" } },
    ]);
    assert.equal(report.status, 'provider_error');
    assert.equal(report.errorMessage, "The 'gpt-x' model is not supported");
  });

  it('an error event before a completed turn is a notice, not a failure', () => {
    const { report } = parseEvents(codexDriver, [
      events[0]!,
      { type: 'error', message: 'Reconnecting... 1/5' },
      ...events.slice(1),
    ]);
    assert.equal(report.status, 'success');
    const failed = parseEvents(codexDriver, [
      events[0]!,
      { type: 'error', message: 'unexpected status 401' },
    ]);
    assert.equal(failed.report.status, 'provider_error');
    assert.equal(failed.report.errorMessage, 'unexpected status 401');
  });

  it('shows the command inside bash -lc', () => {
    assert.equal(unwrapShell("bash -lc 'ls -la'"), 'ls -la');
    assert.equal(unwrapShell('/bin/zsh -lc "make test"'), 'make test');
    assert.equal(unwrapShell('git status'), 'git status');
  });
});
