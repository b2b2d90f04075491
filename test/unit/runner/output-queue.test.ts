// The output queue keeps at most its window in memory, spools the rest to real files in seq
// order, and keeps the spool under its bound by dropping (and counting) the oldest segments.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RawChunk } from '../../../src/runner/output-chunker.ts';
import { OutputQueue } from '../../../src/runner/output-queue.ts';
import { OutputSpool } from '../../../src/runner/output-spool.ts';
import { makeTempDir } from './exec-fixtures.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const limits = { maxChunks: 64, maxWireBytes: MiB };

/** A chunk whose bytes say its seq, so order and content can both be checked. */
function chunk(seq: number, size = 64 * KiB): RawChunk {
  const bytes = Buffer.alloc(size, String(seq % 10));
  return { seq, stream: seq % 2 ? 'stdout' : 'stderr', bytes };
}

function diskBytes(dir: string): number {
  try {
    return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  } catch {
    return 0;
  }
}

/** Takes everything out of the queue, acknowledging batch by batch, and returns the seqs. */
function drain(queue: OutputQueue): number[] {
  const seqs: number[] = [];
  for (let batch = queue.peek(limits); batch; batch = queue.peek(limits)) {
    seqs.push(...batch.chunks.map((c) => c.seq));
    queue.ack(batch.lastSeq);
  }
  return seqs;
}

describe('output queue and spool', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await makeTempDir('outpost-spool-')));
  afterEach(() => cleanup());

  it('keeps the window in memory, spools the rest, and gives everything back in seq order', () => {
    const spoolDir = join(dir, 'spool');
    const queue = new OutputQueue({ spoolDir, spoolBytes: 64 * MiB, windowBytes: MiB });
    for (let seq = 1; seq <= 100; seq++) {
      const pushed = chunk(seq);
      queue.push(pushed);
      pushed.bytes.fill('#'); // the chunker reuses its buffer once push returns
    }
    assert.equal(queue.bytesInMemory, MiB, 'sixteen 64 KiB chunks fill the 1 MiB window');
    assert.equal(queue.size, 100);
    assert.ok(diskBytes(spoolDir) >= 84 * 64 * KiB, 'the other 84 chunks are on disk');
    const seqs: number[] = [];
    let most = 0;
    for (let batch = queue.peek(limits); batch; batch = queue.peek(limits)) {
      seqs.push(...batch.chunks.map((c) => c.seq));
      assert.ok(batch.chunks.every((c) => c.data === String(c.seq % 10).repeat(64 * KiB)));
      queue.ack(batch.lastSeq);
      most = Math.max(most, queue.bytesInMemory);
    }
    assert.deepEqual(
      seqs,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.ok(most <= MiB);
    assert.equal(diskBytes(spoolDir), 0, 'read segments are deleted');
  });

  it('batches at most 64 chunks and about 1 MiB of data per request', () => {
    const queue = new OutputQueue({ spoolDir: join(dir, 's'), spoolBytes: MiB, windowBytes: MiB });
    for (let seq = 1; seq <= 100; seq++) queue.push(chunk(seq, 10));
    assert.equal(queue.peek(limits)?.chunks.length, 64);
    const big = new OutputQueue({ spoolDir: join(dir, 'b'), spoolBytes: MiB, windowBytes: MiB });
    for (let seq = 1; seq <= 20; seq++) big.push(chunk(seq));
    // Sixteen 64 KiB chunks are 1 MiB of data; with JSON's quotes they are just over the limit.
    assert.equal(big.peek(limits)?.chunks.length, 15);
    big.clear();
    queue.clear();
  });

  it('stays under its bound by dropping the oldest spooled chunks, and counts them', () => {
    const spoolDir = join(dir, 'spool');
    const queue = new OutputQueue({ spoolDir, spoolBytes: 2 * MiB, windowBytes: MiB });
    let most = 0;
    for (let seq = 1; seq <= 200; seq++) {
      queue.push(chunk(seq));
      most = Math.max(most, diskBytes(spoolDir));
    }
    assert.ok(most <= 2 * MiB, `the spool reached ${most} bytes`);
    const { chunks, bytes } = queue.dropped;
    assert.ok(chunks > 0);
    assert.equal(bytes, chunks * 64 * KiB);
    const seqs = drain(queue);
    assert.equal(seqs.length + chunks, 200, 'every chunk is either sent or counted as dropped');
    assert.deepEqual(
      seqs.slice(0, 16),
      Array.from({ length: 16 }, (_, i) => i + 1),
    );
    assert.equal(seqs.at(-1), 200, 'the newest output is kept');
    assert.ok(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
      'still in seq order',
    );
  });

  it('counts a chunk the server refused as dropped and moves on', () => {
    const queue = new OutputQueue({ spoolDir: join(dir, 's'), spoolBytes: MiB, windowBytes: MiB });
    queue.push(chunk(1, 5));
    queue.push(chunk(2, 5));
    queue.refuseOldest();
    assert.deepEqual(queue.dropped, { chunks: 1, bytes: 5 });
    assert.deepEqual(drain(queue), [2]);
  });

  it('the spool reads back stream, seq and exact bytes, and clear deletes its files', () => {
    const spoolDir = join(dir, 'raw');
    const spool = new OutputSpool(spoolDir, MiB);
    const odd = { seq: 9, stream: 'stderr' as const, bytes: Buffer.from([0xff, 0, 0xfe]) };
    spool.append(odd);
    spool.append(chunk(10, 3));
    assert.equal(spool.peekBytes(), 3);
    assert.deepEqual(spool.shift(), odd);
    spool.clear();
    assert.equal(spool.size, 0);
    assert.deepEqual(readdirSync(dir), []);
    spool.append(chunk(11, 3));
    assert.deepEqual(readdirSync(dir), ['raw'], 'usable again after a clear');
    spool.clear();
    assert.deepEqual(readdirSync(dir), []);
  });
});
