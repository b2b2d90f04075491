// Which failures the runner marks retryable: transient resource errors yes, a task's own failure no.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskFailure, toTaskFailure } from '../../../src/runner/executors/outcome.ts';
import { executeFileRead } from '../../../src/runner/executors/file-read.ts';
import { makeCtx, makeSettings, makeTempDir } from './exec-fixtures.ts';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code, path: '/x' });
}

describe('retryable failures', () => {
  it('marks a momentary shortage (EMFILE, EAGAIN, EBUSY) retryable', () => {
    for (const code of ['EMFILE', 'EAGAIN', 'EBUSY']) {
      const failure = toTaskFailure(errno(code));
      assert.ok(failure instanceof TaskFailure);
      assert.equal(failure.retryable, true, code);
    }
  });

  it('never marks a missing file or a refused permission retryable', () => {
    for (const code of ['ENOENT', 'EACCES', 'EISDIR']) {
      const failure = toTaskFailure(errno(code));
      assert.ok(failure instanceof TaskFailure);
      assert.equal(failure.retryable, false, code);
    }
  });

  it('reports a missing file as a failed, non-retryable outcome', async () => {
    const { dir, cleanup } = await makeTempDir();
    try {
      const ctx = makeCtx(makeSettings([dir]));
      const outcome = await executeFileRead({ path: `${dir}/not-here` }, ctx);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.error?.kind, 'not_found');
      assert.equal(outcome.error?.retryable, false);
    } finally {
      await cleanup();
    }
  });
});
