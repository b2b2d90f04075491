// The words `outpost agent` prints around an answer: the footer and the waiting lines.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatAgentFooter, formatCost, waitingLine } from '../../../src/cli/agent-footer.ts';
import type { AgentOutput } from '../../../src/protocol/agents.ts';

const output = (extra: Partial<AgentOutput> = {}): AgentOutput => ({
  agent: 'claude',
  text: 'done',
  resumed: true,
  ...extra,
});

describe('agent footer', () => {
  it('names the session, the short provider id, model, turns and cost', () => {
    const full = output({
      sessionId: '3f2a9c1e-5b7d-4e2f-9a1b-0c3d5e7f9a1b',
      model: 'claude-sonnet-4-5',
      turns: 3,
      costUsd: 0.0123,
    });
    assert.equal(
      formatAgentFooter('cli:me', 'claude', full),
      'session cli:me · claude 3f2a9c1e · claude-sonnet-4-5 · 3 turns · $0.0123',
    );
  });

  it('leaves out what the agent did not report, and says one turn', () => {
    assert.equal(
      formatAgentFooter('k', 'codex', output({ sessionId: 'thread-1', turns: 1 })),
      'session k · codex thread-1 · 1 turn',
    );
    assert.equal(formatAgentFooter('k', 'gemini', output()), 'session k · gemini (no session id)');
  });

  it('adds a note when the old session could not be resumed, and names refused models', () => {
    const fresh = output({
      sessionId: 'abcdef012345',
      model: 'sonnet',
      modelsSkipped: ['opus'],
      freshBecause: 'No conversation found with session ID: 1234',
    });
    assert.equal(
      formatAgentFooter('k', 'claude', fresh),
      'session k · claude abcdef01 · sonnet (after opus refused)\n' +
        'note: the previous session could not be resumed (No conversation found with session ID: 1234); this turn started a new one',
    );
  });

  it('prints cents, and up to four decimals below a dollar', () => {
    assert.deepEqual([0, 0.05, 0.1, 0.0123, 0.00004, 0.99999, 1, 12.345].map(formatCost), [
      '$0.00',
      '$0.05',
      '$0.10',
      '$0.0123',
      '$0.00',
      '$1.00',
      '$1.00',
      '$12.35',
    ]);
  });
});

describe('waiting lines', () => {
  it('says what a turn waits for, and nothing once it runs', () => {
    const at = { runAt: 0 };
    assert.equal(
      waitingLine({ ...at, state: 'held' }, 'cli:me'),
      'waiting for the previous turn of session cli:me to finish…',
    );
    assert.equal(
      waitingLine({ ...at, state: 'queued' }, 'k'),
      'waiting for a runner to pick the turn up…',
    );
    assert.equal(waitingLine({ ...at, state: 'running' }, 'k'), undefined);
    assert.equal(waitingLine({ ...at, state: 'succeeded' }, 'k'), undefined);
  });
});
