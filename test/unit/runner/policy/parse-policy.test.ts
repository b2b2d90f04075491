// The `policy` object of the runner config file: defaults (today's behaviour), a full policy, and
// one error listing every problem of a bad one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../../../src/protocol/errors.ts';
import { KINDS } from '../../../../src/protocol/tasks.ts';
import { loadRunnerConfig } from '../../../../src/runner/config.ts';
import { canonicalJson, policyDigest } from '../../../../src/runner/policy/policy.ts';

const TOKEN = 'a-token-of-24-characters';
let dir: string;
before(() => (dir = mkdtempSync(join(tmpdir(), 'outpost-policy-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

function load(content: unknown, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(content));
  return loadRunnerConfig({ OUTPOST_TOKEN: TOKEN, ...env }, { file });
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError);
    return err.message.split('\n').slice(1);
  }
  return assert.fail('expected the config to be refused');
}

describe('runner policy config', () => {
  it('defaults to today: every kind and agent, roots read-write, no command rules', () => {
    const { policy } = loadRunnerConfig({ OUTPOST_TOKEN: TOKEN, OUTPOST_ROOTS: '/srv/a' });
    assert.deepEqual(policy.kinds, [...KINDS]);
    assert.deepEqual(policy.agents, ['claude', 'codex', 'gemini']);
    assert.deepEqual(policy.roots, ['/srv/a']);
    assert.deepEqual(policy.readOnlyRoots, []);
    assert.deepEqual(policy.commands, { allow: [], deny: [], requireApproval: [] });
    assert.deepEqual(policy.taskEnv, ['*']);
    assert.equal(policy.maxTimeoutMs, 86_400_000);
    assert.ok(Object.isFrozen(policy.commands.deny), 'the policy cannot be edited after loading');
  });

  it('reads a full policy, expanding ~ and durations, and passes its env names to tasks', () => {
    const config = load({
      roots: ['/srv/work'],
      policy: {
        kinds: ['shell', 'file.read'],
        agents: ['claude'],
        readOnlyRoots: ['~/docs'],
        commands: { deny: ['\\brm\\s+-rf\\b'], requireApproval: ['^git push'] },
        agentModes: { claude: ['default', 'acceptEdits'] },
        maxTimeoutMs: '10m',
        env: ['GITHUB_TOKEN', 'NPM_*'],
        taskEnv: ['CI'],
      },
      agents: { claude: { permissionMode: 'acceptEdits' } },
    });
    const { policy } = config;
    assert.deepEqual(policy.kinds, ['shell', 'file.read']);
    assert.deepEqual(policy.readOnlyRoots, [join(homedir(), 'docs')]);
    assert.equal(policy.maxTimeoutMs, 600_000);
    assert.deepEqual(policy.commands.deny, ['\\brm\\s+-rf\\b']);
    assert.deepEqual(policy.commands.allow, []);
    assert.ok(
      config.envAllowlist.includes('GITHUB_TOKEN') && config.envAllowlist.includes('NPM_*'),
    );
    assert.ok(config.agents.claude.envAllowlist.includes('GITHUB_TOKEN'));
  });

  it('lists every problem of a bad policy in one error', () => {
    const problems = problemsOf(() =>
      load({
        policy: {
          kinds: ['shell', 'rm'],
          agents: ['claude', 'hal'],
          readOnlyRoots: ['relative/dir'],
          commands: { deny: ['(unclosed'], requireApproval: 'git push', maybe: [] },
          agentModes: { claude: ['ok'], clippy: ['x'] },
          maxTimeoutMs: -5,
          env: ['OUTPOST_*'],
          taskEnv: ['has space'],
          colour: 'blue',
        },
      }),
    );
    const text = problems.join('\n');
    for (const key of [
      'kinds',
      'agents',
      'readOnlyRoots',
      'commands',
      'agentModes',
      'maxTimeoutMs',
      'env',
      'taskEnv',
    ]) {
      assert.match(text, new RegExp(`policy: key '${key}'`), `names ${key}: ${text}`);
    }
    assert.match(text, /unknown key 'colour'/);
    assert.match(text, /item \[0\] is not a valid regular expression/);
    assert.match(text, /unknown key 'maybe'/);
    assert.match(text, /unknown agent 'clippy'/);
    assert.match(text, /runner's own secrets/);
    assert.equal(problems.length, 9, text);
  });

  it('reads approvals: remote off and 15 minutes by default; bad values named', () => {
    const { policy } = loadRunnerConfig({ OUTPOST_TOKEN: TOKEN });
    assert.deepEqual(policy.approvals, { remote: false, expireAfterMs: 900_000 });
    const set = load({ policy: { approvals: { remote: true, expireAfterMs: '2m' } } }).policy;
    assert.deepEqual(set.approvals, { remote: true, expireAfterMs: 120_000 });
    const problems = problemsOf(() =>
      load({ policy: { approvals: { remote: 'yes', expireAfterMs: 10, quorum: 2 } } }),
    );
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0]!, /policy: key 'approvals'/);
    assert.match(problems[0]!, /'remote' must be true or false/);
    assert.match(problems[0]!, /'expireAfterMs'/);
    assert.match(problems[0]!, /unknown key 'quorum'/);
  });

  it('refuses an agent mode the policy does not allow, and a policy that is not an object', () => {
    const problems = problemsOf(() =>
      load({
        policy: { agentModes: { claude: ['default'] } },
        agents: { claude: { permissionMode: 'bypassPermissions' } },
      }),
    );
    assert.deepEqual(problems.length, 1);
    assert.match(
      problems[0]!,
      /agents\.claude: mode 'bypassPermissions' is not allowed by policy\.agentModes\.claude/,
    );
    assert.match(
      problemsOf(() => load({ policy: ['shell'] }))[0]!,
      /key 'policy' must be an object/,
    );
  });

  it('gives equal policies equal digests whatever the key order, and others a different one', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
    const a = load({ policy: { kinds: ['shell'], maxTimeoutMs: 5000 } }).policy;
    const b = load({ policy: { maxTimeoutMs: '5s', kinds: ['shell'] } }).policy;
    const c = load({ policy: { kinds: ['shell', 'file.read'] } }).policy;
    assert.match(policyDigest(a), /^sha256:[0-9a-f]{64}$/);
    assert.equal(policyDigest(a), policyDigest(b));
    assert.notEqual(policyDigest(a), policyDigest(c));
  });

  it('needs no token for local commands (runner policy, runner audit)', () => {
    const config = loadRunnerConfig({}, { local: true });
    assert.equal(config.token, '');
  });
});
