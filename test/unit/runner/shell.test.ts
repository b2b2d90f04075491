// The shell kind: a string goes to the shell as one argv element (no double expansion), an argv
// array runs without a shell, exit codes and stderr come back, and cwd stays inside the roots.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Outcome } from '../../../src/protocol/tasks.ts';
import { executeTask } from '../../../src/runner/executors/index.ts';
import { makeCtx, makeSettings, makeTempDir } from './exec-fixtures.ts';

let root = '';
let cleanup = (): Promise<void> => Promise.resolve();
before(async () => {
  ({ dir: root, cleanup } = await makeTempDir());
  await mkdir(join(root, 'sub'));
});
after(() => cleanup());

function shell(spec: Record<string, unknown>): Promise<Outcome> {
  return executeTask('shell', spec, makeCtx(makeSettings([root])));
}

describe('shell', () => {
  it('hands a command string to the shell as one argv element', async () => {
    const outcome = await shell({ command: 'echo "$#"; echo \'a b\'; echo "c;d" | tr -d ";"' });
    assert.equal(outcome.status, 'succeeded');
    assert.equal(outcome.stdout, '0\na b\ncd\n');
    assert.equal(outcome.exitCode, 0);
    assert.equal(outcome.stdoutBytes, 9);
    assert.equal(outcome.truncated, false);
    assert.ok(typeof outcome.durationMs === 'number');
  });

  it('expands the command once, as sh would, not twice', async () => {
    const outcome = await shell({ command: `x='$HOME'; echo "$x"` });
    assert.equal(outcome.stdout, '$HOME\n');
  });

  it('runs an argv array without a shell', async () => {
    const outcome = await shell({ command: ['printf', '%s|', 'a b', '$HOME', ';', '*'] });
    assert.equal(outcome.status, 'succeeded');
    assert.equal(outcome.stdout, 'a b|$HOME|;|*|');
  });

  it('reports a non-zero exit as failed with its code and stderr', async () => {
    const outcome = await shell({ command: 'echo oops >&2; exit 3' });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.exitCode, 3);
    assert.equal(outcome.stderr, 'oops\n');
    assert.deepEqual(outcome.error, {
      kind: 'exit',
      message: 'exited with code 3',
      exitCode: 3,
      retryable: false,
    });
  });

  it('runs in the first root by default and in a cwd inside it', async () => {
    assert.equal((await shell({ command: 'pwd -P' })).stdout, `${root}\n`);
    assert.equal((await shell({ command: 'pwd -P', cwd: 'sub' })).stdout, `${join(root, 'sub')}\n`);
  });

  it('refuses a cwd outside the roots or with ..', async () => {
    const outside = await shell({ command: 'pwd', cwd: '/' });
    assert.equal(outside.status, 'failed');
    assert.equal(outside.error?.kind, 'policy');
    assert.match(outside.error?.message ?? '', /outside the allowed roots/);
    const dotdot = await shell({ command: 'pwd', cwd: 'sub/..' });
    assert.equal(dotdot.error?.kind, 'policy');
    const missing = await shell({ command: 'pwd', cwd: 'nope' });
    assert.equal(missing.error?.kind, 'not_found');
    assert.match(missing.error?.message ?? '', /cwd does not exist: nope/);
    await writeFile(join(root, 'plain.txt'), 'x');
    const file = await shell({ command: 'pwd', cwd: 'plain.txt' });
    assert.equal(file.error?.kind, 'io');
    assert.match(file.error?.message ?? '', /cwd is not a directory: plain.txt/);
  });

  it('reports a program that cannot start as a spawn failure', async () => {
    const outcome = await shell({ command: ['/nonexistent/tool'] });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.kind, 'spawn');
    assert.equal(outcome.exitCode, 127);
  });

  it('reports a bad spec as data, naming the field', async () => {
    const outcome = await shell({ command: 42 });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.kind, 'bad_spec');
    assert.match(outcome.error?.message ?? '', /spec\.command/);
  });

  it('reports a cancelled task that never started', async () => {
    const abort = new AbortController();
    abort.abort();
    const outcome = await executeTask(
      'shell',
      { command: 'true' },
      makeCtx(makeSettings([root]), { signal: abort.signal }),
    );
    assert.equal(outcome.status, 'cancelled');
  });
});
