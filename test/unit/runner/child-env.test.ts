// The child environment is an allowlist: runner secrets set in process.env never reach a task.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_ENV_ALLOWLIST,
  buildChildEnv,
  createEnvMatcher,
} from '../../../src/runner/child-env.ts';
import { executeTask } from '../../../src/runner/executors/index.ts';
import { makeCtx, makeSettings, makeTempDir } from './exec-fixtures.ts';

const SECRETS = {
  OUTPOST_TOKEN: 'op-secret-1',
  WORKER_TOKEN: 'worker-secret-2',
  UNLISTED_VAR: 'not-allowed-3',
};

let dir = '';
let cleanup = (): Promise<void> => Promise.resolve();
before(async () => {
  ({ dir, cleanup } = await makeTempDir());
  Object.assign(process.env, SECRETS, { LC_OUTPOST_TEST: 'lc-value' });
});
after(async () => {
  for (const name of [...Object.keys(SECRETS), 'LC_OUTPOST_TEST']) delete process.env[name];
  await cleanup();
});

function parseEnv(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('child environment', () => {
  it('keeps runner secrets and unlisted variables out of a child process', async () => {
    const ctx = makeCtx(makeSettings([dir]));
    const outcome = await executeTask(
      'shell',
      { command: ['env'], env: { FROM_SPEC: 'yes' } },
      ctx,
    );
    assert.equal(outcome.status, 'succeeded');
    const env = parseEnv(outcome.stdout ?? '');
    for (const value of Object.values(SECRETS))
      assert.ok(!(outcome.stdout ?? '').includes(value), `${value} leaked`);
    assert.equal(env.get('PATH'), process.env.PATH);
    assert.equal(env.get('LC_OUTPOST_TEST'), 'lc-value', 'LC_* is a prefix pattern');
    assert.equal(env.get('FROM_SPEC'), 'yes');
    assert.match(env.get('OUTPOST_TASK_TAG') ?? '', /^task_test\.1\.[0-9a-f]{12}$/);
  });

  it('refuses runner secrets even when the allowlist matches everything', () => {
    const env = buildChildEnv(
      ['*'],
      {},
      { OUTPOST_TOKEN: 'a', WORKER_TOKEN: 'b', DISCORD_BOT_TOKEN: 'c', HOME: '/h' },
    );
    assert.deepEqual(env, { HOME: '/h' });
  });

  it('puts the spec env on top of inherited values', () => {
    const env = buildChildEnv(
      DEFAULT_ENV_ALLOWLIST,
      { HOME: '/spec' },
      { HOME: '/parent', PATH: '/bin' },
    );
    assert.deepEqual(env, { HOME: '/spec', PATH: '/bin' });
  });

  it('matches exact names and trailing-* prefixes only', () => {
    const allowed = createEnvMatcher(['PATH', 'LC_*']);
    assert.equal(allowed('PATH'), true);
    assert.equal(allowed('PATHX'), false);
    assert.equal(allowed('LC_ALL'), true);
    assert.equal(allowed('XLC_ALL'), false);
  });
});
