// The transport's one timer for every request's limit: items past their deadline time out, items
// that finished (deadline 0) or have time left do not, and an earlier deadline re-arms the timer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeadlineWheel, type Timed } from '../../../src/runner/deadline-wheel.ts';

function item(inMs: number, timedOut: string[], name: string): Timed {
  return { deadline: Date.now() + inMs, timeOut: () => timedOut.push(name) };
}

describe('deadline wheel', () => {
  it('times out only what is still running past its deadline, earliest first', async () => {
    const wheel = new DeadlineWheel();
    const timedOut: string[] = [];
    const late = item(60_000, timedOut, 'late');
    const finished = item(20, timedOut, 'finished');
    wheel.watch(late);
    wheel.watch(finished);
    const soon = item(30, timedOut, 'soon');
    wheel.watch(soon);
    const sooner = item(10, timedOut, 'sooner');
    wheel.watch(sooner);
    finished.deadline = 0;
    const last = new Promise<void>((resolve) => {
      wheel.watch({ deadline: Date.now() + 40, timeOut: resolve });
    });
    // The wheel's timer is unref'd (a request's socket keeps a process alive); here, this does.
    const alive = setInterval(() => {}, 1_000);
    await last.finally(() => clearInterval(alive));
    assert.deepEqual(timedOut, ['sooner', 'soon']);
    assert.equal(late.deadline > 0, true, 'the late one is still watched');
  });
});
