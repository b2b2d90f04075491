import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyRun,
  isModelRefusal,
  type RunFacts,
} from '../../../../src/runner/agents/classify.ts';
import { AGENT_DRIVERS } from '../../../../src/runner/agents/drivers.ts';
import type { ProcessResult } from '../../../../src/runner/process.ts';

function facts(extra: Partial<RunFacts> & { proc?: Partial<ProcessResult> } = {}): RunFacts {
  const { proc, ...rest } = extra;
  return {
    driver: AGENT_DRIVERS.claude,
    binary: 'claude',
    pathSetting: 'CLAUDE_PATH or agents.claude.path',
    process: {
      exitCode: 0,
      signal: null,
      stdout: '',
      stderr: '',
      stdoutBytes: 0,
      stderrBytes: 0,
      truncated: false,
      timedOut: false,
      cancelled: false,
      ...proc,
    },
    report: { status: 'success', text: 'ok' },
    events: 3,
    noise: '',
    resumed: false,
    newSession: false,
    timeoutMs: 1000,
    ...rest,
  };
}

describe('classifyRun', () => {
  it('succeeds only with exit 0 and a successful report', () => {
    assert.deepEqual(classifyRun(facts()), { kind: 'ok' });
    assert.equal(classifyRun(facts({ proc: { exitCode: 1 } })).kind, 'exit');
    assert.equal(classifyRun(facts({ report: { status: 'incomplete', text: '' } })).kind, 'exit');
  });

  it('names the setting to fix when the binary is missing', () => {
    const verdict = classifyRun(
      facts({
        binary: '/opt/claude',
        proc: { exitCode: null, spawnError: { code: 'ENOENT', message: 'x' } },
      }),
    );
    assert.deepEqual(verdict, {
      kind: 'not_found',
      message: "claude CLI not found at '/opt/claude'; set CLAUDE_PATH or agents.claude.path",
    });
  });

  it('tells timeouts, cancels and signal deaths apart', () => {
    assert.equal(
      classifyRun(facts({ proc: { exitCode: null, signal: 'SIGTERM', timedOut: true } })).kind,
      'timeout',
    );
    assert.equal(
      classifyRun(facts({ proc: { exitCode: null, signal: 'SIGTERM', cancelled: true } })).kind,
      'cancelled',
    );
    assert.deepEqual(classifyRun(facts({ proc: { exitCode: null, signal: 'SIGSEGV' } })), {
      kind: 'crashed',
      message: 'claude was killed by SIGSEGV',
    });
  });

  it('says so when the run was lost with its spawn helper', () => {
    const lost = 'the spawn helper (pid 7) was killed by SIGKILL';
    assert.deepEqual(classifyRun(facts({ proc: { exitCode: null, lost } })), {
      kind: 'crashed',
      message: `lost track of claude: ${lost}; its processes were stopped`,
    });
  });

  it('recognises a refused resume only when resuming', () => {
    const stderr = 'No conversation found with session ID: abc\n';
    const failed = {
      proc: { exitCode: 1, stderr },
      report: { status: 'incomplete' as const, text: '' },
      events: 0,
    };
    assert.deepEqual(classifyRun(facts({ ...failed, resumed: true })), {
      kind: 'resume_rejected',
      message: 'No conversation found with session ID: abc',
    });
    assert.equal(classifyRun(facts({ ...failed, resumed: false })).kind, 'exit');
    const codex = facts({
      ...failed,
      driver: AGENT_DRIVERS.codex,
      resumed: true,
      proc: {
        exitCode: 1,
        stderr:
          'Error: thread/resume: thread/resume failed: no rollout found for thread id x (code -32600)',
      },
    });
    assert.equal(classifyRun(codex).kind, 'resume_rejected');
  });

  it('recognises a pre-assigned session id that already has a transcript', () => {
    const stderr = 'Error: Session ID 3b241101-e2bb-4255-8caf-4136c566a962 is already in use.\n';
    const failed = {
      proc: { exitCode: 1, stderr },
      report: { status: 'incomplete' as const, text: '' },
      events: 0,
    };
    assert.deepEqual(classifyRun(facts({ ...failed, newSession: true })), {
      kind: 'session_taken',
      message: 'Error: Session ID 3b241101-e2bb-4255-8caf-4136c566a962 is already in use.',
    });
    assert.equal(classifyRun(facts({ ...failed, newSession: false })).kind, 'exit');
  });

  it('reads refused arguments from usage errors and from gemini exit 42 and codex exit 2', () => {
    const none = { report: { status: 'incomplete' as const, text: '' }, events: 0 };
    assert.equal(
      classifyRun(
        facts({ ...none, proc: { exitCode: 1, stderr: "error: unknown option '--bogus'" } }),
      ).kind,
      'bad_flags',
    );
    assert.equal(
      classifyRun(facts({ ...none, driver: AGENT_DRIVERS.gemini, proc: { exitCode: 42 } })).kind,
      'bad_flags',
    );
    assert.equal(
      classifyRun(facts({ ...none, driver: AGENT_DRIVERS.codex, proc: { exitCode: 2 } })).kind,
      'bad_flags',
    );
  });

  it('reads the turn limit from the report and from gemini exit 53', () => {
    assert.equal(
      classifyRun(facts({ proc: { exitCode: 1 }, report: { status: 'turn_limit', text: '' } }))
        .kind,
      'turn_limit',
    );
    const gemini = facts({
      driver: AGENT_DRIVERS.gemini,
      proc: { exitCode: 53 },
      report: { status: 'provider_error', text: '', errorMessage: 'max turns' },
    });
    assert.equal(classifyRun(gemini).kind, 'turn_limit');
  });

  it('tells a model refusal from other provider errors', () => {
    const provider = (errorMessage: string) =>
      classifyRun(
        facts({
          model: 'claude-x',
          proc: { exitCode: 1 },
          report: { status: 'provider_error', text: '', errorMessage },
        }),
      ).kind;
    assert.equal(
      provider('API Error: 404 {"error":{"type":"not_found_error","message":"model: claude-x"}}'),
      'model_refused',
    );
    assert.equal(provider('API Error: 529 Overloaded'), 'model_refused');
    assert.equal(provider('API Error: 500 Internal server error'), 'provider');
    assert.equal(provider('file not found: a.ts'), 'provider');
    assert.equal(isModelRefusal("The 'gpt-9' model is not supported", 'gpt-9'), true);
    assert.equal(isModelRefusal("The 'gpt-9' model is not supported", undefined), false);
  });
});
