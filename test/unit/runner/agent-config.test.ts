// The agent settings of the runner config: env OUTPOST_<AGENT>_* and <AGENT>_PATH, the config
// file's `agents` object, defaults, and every problem in the one config error.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../../src/protocol/errors.ts';
import { DEFAULT_ENV_ALLOWLIST, loadRunnerConfig } from '../../../src/runner/config.ts';

const TOKEN = 'a-token-of-24-characters';
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-agent-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(content: unknown): string {
  const path = join(dir, `runner-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError);
    return err.message
      .split('\n')
      .slice(1)
      .map((l) => l.replace(/^ {2}- /, ''));
  }
  return assert.fail('expected the config to be refused');
}

describe('agent settings', () => {
  it('defaults to the bare binary names and adds each CLI’s own env names to its allowlist only', () => {
    const { agents } = loadRunnerConfig({ OUTPOST_TOKEN: TOKEN });
    assert.deepEqual(
      [agents.claude.path, agents.codex.path, agents.gemini.path],
      ['claude', 'codex', 'gemini'],
    );
    assert.deepEqual(agents.claude.models, []);
    assert.deepEqual(agents.claude.extraArgs, []);
    assert.equal(agents.claude.mode, undefined);
    assert.deepEqual(agents.claude.envAllowlist, [
      ...DEFAULT_ENV_ALLOWLIST,
      'ANTHROPIC_*',
      'CLAUDE_CONFIG_DIR',
      'CLAUDE_CODE_*',
    ]);
    assert.ok(agents.codex.envAllowlist.includes('OPENAI_*'));
    assert.ok(!agents.codex.envAllowlist.includes('ANTHROPIC_*'));
    assert.ok(agents.gemini.envAllowlist.includes('GEMINI_API_KEY'));
    assert.match(agents.claude.pathSetting, /CLAUDE_PATH or agents\.claude\.path/);
  });

  it('reads env: <AGENT>_PATH, models, mode, args, cwd, timeout and extra env names', () => {
    const { agents } = loadRunnerConfig({
      OUTPOST_TOKEN: TOKEN,
      CLAUDE_PATH: '~/bin/claude',
      OUTPOST_CLAUDE_MODELS: 'claude-opus-4-1, claude-sonnet-4-5',
      OUTPOST_CLAUDE_PERMISSION_MODE: 'acceptEdits',
      OUTPOST_CLAUDE_ARGS: '--max-turns 30',
      OUTPOST_CLAUDE_CWD: '/srv/work',
      OUTPOST_CLAUDE_TIMEOUT_MS: '30m',
      OUTPOST_CLAUDE_ENV_ALLOW: 'AWS_*',
      OUTPOST_CODEX_SANDBOX: 'workspace-write',
      OUTPOST_GEMINI_APPROVAL_MODE: 'auto_edit',
      GEMINI_PATH: 'gemini-nightly',
    });
    const { claude } = agents;
    assert.equal(claude.path, join(homedir(), 'bin/claude'));
    assert.deepEqual(claude.models, ['claude-opus-4-1', 'claude-sonnet-4-5']);
    assert.equal(claude.mode, 'acceptEdits');
    assert.deepEqual(claude.extraArgs, ['--max-turns', '30']);
    assert.equal(claude.cwd, '/srv/work');
    assert.equal(claude.maxTimeoutMs, 30 * 60_000);
    assert.equal(claude.envAllowlist.at(-1), 'AWS_*');
    assert.equal(agents.codex.mode, 'workspace-write');
    assert.equal(agents.gemini.mode, 'auto_edit');
    assert.equal(agents.gemini.path, 'gemini-nightly');
  });

  it('reads the config file’s agents object, with env winning over it', () => {
    const file = writeConfig({
      token: TOKEN,
      agents: {
        codex: {
          path: '/opt/codex',
          models: ['gpt-5', 'gpt-5-mini'],
          sandbox: 'read-only',
          args: ['-c', 'a b=1'],
        },
        claude: { permissionMode: 'plan' },
      },
    });
    const { agents } = loadRunnerConfig({ OUTPOST_CODEX_SANDBOX: 'workspace-write' }, { file });
    assert.equal(agents.codex.path, '/opt/codex');
    assert.deepEqual(agents.codex.models, ['gpt-5', 'gpt-5-mini']);
    assert.deepEqual(agents.codex.extraArgs, ['-c', 'a b=1']);
    assert.equal(agents.codex.mode, 'workspace-write');
    assert.equal(agents.claude.mode, 'plan');
  });

  it('lists every bad agent value with the other problems', () => {
    const file = writeConfig({
      token: TOKEN,
      agents: { claude: { models: ['ok', '-bad'], sandbox: 'x', nonsense: 1 }, copilot: {} },
    });
    const problems = problemsOf(() =>
      loadRunnerConfig(
        {
          OUTPOST_CODEX_ENV_ALLOW: 'OUTPOST_*',
          OUTPOST_GEMINI_TIMEOUT_MS: 'soon',
          MAX_CONCURRENT: '0',
        },
        { file },
      ),
    );
    const has = (re: RegExp) =>
      assert.ok(
        problems.some((p) => re.test(p)),
        `${re} in ${problems.join(' | ')}`,
      );
    has(/^MAX_CONCURRENT:/);
    has(/unknown agent 'agents\.copilot'/);
    has(/agents\.claude: key 'models': every item must be a model name/);
    has(/agents\.claude: unknown key 'nonsense'/);
    has(/agents\.claude: unknown key 'sandbox'/); // Claude's mode key is permissionMode
    has(/^OUTPOST_CODEX_ENV_ALLOW: must not pass the runner's own secrets \(OUTPOST_TOKEN\)/);
    has(/^OUTPOST_GEMINI_TIMEOUT_MS: must be a duration/);
  });

  it('refuses an agents value that is not an object', () => {
    const file = writeConfig({ token: TOKEN, agents: ['claude'] });
    const problems = problemsOf(() => loadRunnerConfig({}, { file }));
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /key 'agents' must be an object/);
  });
});
