// The bench report reads spawn-bound against the host's own spawn ceiling from the calibration.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnHostNote, throughputRow } from '../../bench/report.ts';
import type { ThroughputRun } from '../../bench/throughput.ts';

function run(kind: ThroughputRun['kind'], perSecond: number): ThroughputRun {
  return {
    kind,
    capacity: 16,
    serverRssMiB: 130,
    completed: perSecond * 5,
    errors: 0,
    warmup: { requests: 8000, ms: 4000 },
    windowStart: 0,
    windowEnd: 5000,
    seconds: 5,
    perSecond,
    latencies: [],
    cpuPercent: {},
  };
}

describe('bench report: spawn-bound and the host', () => {
  it('shows the bare spawn ceiling beside a spawn-bound result, and only there', () => {
    assert.match(throughputRow(run('spawn', 159), 185).result, /bare spawn ceiling 185\/s/);
    assert.doesNotMatch(throughputRow(run('queue', 3476), 185).result, /ceiling/);
    assert.doesNotMatch(throughputRow(run('spawn', 159)).result, /ceiling/);
  });

  it('says the host sets the result when its ceiling is under the bar', () => {
    const note = spawnHostNote(run('spawn', 159), 185);
    assert.match(note ?? '', /bare spawn ceiling \(185\/s\) is below the bar of 500/);
    assert.equal(spawnHostNote(run('spawn', 621), 633), undefined);
    assert.equal(spawnHostNote(run('spawn', 159)), undefined, 'no calibration, no claim');
    assert.equal(spawnHostNote(run('queue', 2400), 185), undefined);
  });

  it('keeps the pass mark on the bar alone', () => {
    assert.equal(throughputRow(run('spawn', 159), 185).pass, false);
    assert.equal(throughputRow(run('spawn', 621), 633).pass, true);
  });
});
