// The bench's closed-loop load: a warm-up counted in requests as well as time, with a time limit,
// and only requests that complete inside the window counted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runClosedLoop } from '../../bench/load.ts';

describe('bench closed-loop load', () => {
  it('warms up until the request count is reached, then counts only the window', async () => {
    let calls = 0;
    const once = async (): Promise<void> => {
      calls += 1;
      await sleep(1);
    };
    const plan = {
      concurrency: 4,
      warmupMs: 10,
      warmupRequests: 200,
      maxWarmupMs: 60_000,
      durationMs: 200,
    };
    const result = await runClosedLoop(plan, once, {});
    assert.ok(result.warmup.requests >= 200, `warm-up ran ${result.warmup.requests} requests`);
    assert.ok(result.warmup.ms >= 10);
    assert.ok(Math.abs(result.windowEnd - result.windowStart - 200) < 1e-6, 'a 200 ms window');
    assert.ok(result.completed > 0);
    // Every call is either warm-up, window, or one still running when the window closed.
    assert.ok(result.warmup.requests + result.completed <= calls);
    assert.ok(calls - result.warmup.requests - result.completed <= plan.concurrency);
    assert.equal(result.latencies.length, result.completed);
  });

  it('ends the warm-up at its time limit when the requests are too slow', async () => {
    const once = () => sleep(20);
    const plan = {
      concurrency: 1,
      warmupMs: 10,
      warmupRequests: 1_000_000,
      maxWarmupMs: 100,
      durationMs: 30,
    };
    const result = await runClosedLoop(plan, once, {});
    assert.ok(result.warmup.requests < 1_000_000);
    assert.ok(result.warmup.ms >= 100);
  });

  it('warms up for a fixed time when no request count is set', async () => {
    let calls = 0;
    const plan = { concurrency: 2, warmupMs: 30, durationMs: 30 };
    const once = async (): Promise<void> => {
      calls += 1;
      await sleep(1);
    };
    const result = await runClosedLoop(plan, once, {});
    assert.ok(result.warmup.ms >= 30);
    assert.ok(result.warmup.requests > 0 && result.warmup.requests <= calls);
  });
});
