// The words a task read uses for why a task waits, from a registry snapshot.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeWait } from '../../src/server/queue/wait-reason.ts';
import type { RunnerInfo } from '../../src/protocol/auth.ts';
import type { Task } from '../../src/protocol/tasks.ts';

function runner(name: string, extra: Partial<RunnerInfo> = {}): RunnerInfo {
  const base = { name, instanceId: 'i', labels: [], capacity: 1, running: 0, kinds: ['shell'] };
  return { ...base, version: '1', firstSeenAt: 0, lastSeenAt: 0, online: true, ...extra };
}

function task(extra: Partial<Task> = {}): Task {
  const base = { id: 't', kind: 'shell' as const, spec: {}, state: 'queued' as const };
  const numbers = { priority: 0, runAt: 0, timeoutMs: 1, maxAttempts: 1, attempt: 0 };
  const rest = { retryOnFailure: false, createdAt: 0, updatedAt: 0, cancelRequested: false };
  return { ...base, ...numbers, ...rest, ...extra };
}

describe('why a task waits', () => {
  it('says nothing while an online runner can take it', () => {
    assert.equal(describeWait(task(), { runners: [runner('a')] }), undefined);
  });

  it('asks for any runner that runs the kind when none is online', () => {
    const runners = [runner('a', { online: false })];
    assert.equal(describeWait(task(), { runners }), 'waiting for a runner that runs kind shell');
  });

  it('names a target runner that is online but lacks the labels', () => {
    const runners = [runner('mac', { labels: ['arm'] }), runner('gpu', { labels: ['gpu'] })];
    const waiting = task({ target: { runner: 'mac', labels: ['gpu', 'gpu'] } });
    assert.equal(describeWait(waiting, { runners }), 'waiting for runner "mac" with labels gpu');
  });

  it('ignores offline runners that have the labels', () => {
    const runners = [runner('gpu', { labels: ['gpu'], online: false }), runner('cpu')];
    const waiting = task({ target: { labels: ['gpu'] } });
    assert.equal(describeWait(waiting, { runners }), 'waiting for a runner with labels gpu');
  });

  it('reports a full concurrency key only once routing is satisfied', () => {
    const keyed = task({ concurrency: { key: 'deploy', limit: 2 } });
    const runners = [runner('a')];
    assert.equal(describeWait(keyed, { runners, runningWithKey: 1 }), undefined);
    assert.equal(
      describeWait(keyed, { runners, runningWithKey: 2 }),
      'waiting for concurrency key deploy (2 running)',
    );
    assert.equal(
      describeWait(keyed, { runners: [], runningWithKey: 2 }),
      'waiting for a runner that runs kind shell',
    );
  });
});
