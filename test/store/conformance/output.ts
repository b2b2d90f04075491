// Conformance: live output — fenced appends, exactly-once by the runner's seq, reading by the
// server's seq, the head-and-tail cap with its marker, bytes that are not UTF-8, retries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutputChunk } from '../../../src/protocol/output.ts';
import type { Claim } from '../../../src/protocol/runner.ts';
import type { Store } from '../../../src/store/types.ts';
import { claimOne, FAILED, newTask, startTask, SUCCEEDED, T0 } from './fixtures.ts';

const CAP = 1 << 20;

function append(store: Store, claim: Claim, chunks: OutputChunk[], capBytes = CAP) {
  const { leaseToken } = claim;
  return store.appendOutput({ taskId: claim.task.id, leaseToken, chunks, capBytes, now: T0 + 1 });
}

const out = (seq: number, data: string): OutputChunk => ({ seq, stream: 'stdout', data });

/** Everything a reader following from the start sees, as one string per chunk. */
async function readAll(store: Store, taskId: string): Promise<string[]> {
  const page = await store.readOutput(taskId, 0, 1000);
  assert.ok(page);
  return page.chunks.map((c) => (c.omittedBytes === undefined ? c.data : `[${c.omittedBytes}]`));
}

export function describeOutput(store: () => Store): void {
  describe('live output', () => {
    it('appends in order and reads from any seq, following to the end', async () => {
      const claim = await startTask(store());
      const id = claim.task.id;
      assert.deepEqual(await append(store(), claim, [out(1, 'a'), out(2, 'b')]), {
        storedThrough: 2,
        lastSeq: 2,
        added: 2,
      });
      const err: OutputChunk = { seq: 3, stream: 'stderr', data: 'c' };
      await append(store(), claim, [err]);
      const page = await store().readOutput(id, 1, 10);
      assert.deepEqual(
        page?.chunks.map((c) => [c.seq, c.stream, c.data, c.attempt, c.at]),
        [
          [2, 'stdout', 'b', 1, T0 + 1],
          [3, 'stderr', 'c', 1, T0 + 1],
        ],
      );
      assert.deepEqual([page?.lastSeq, page?.done, page?.omittedBytes], [3, false, 0]);
      const { leaseToken } = claim;
      await store().finishAttempt({ taskId: id, leaseToken, outcome: SUCCEEDED, now: T0 + 2 });
      const end = await store().readOutput(id, 3, 10);
      assert.deepEqual([end?.chunks, end?.lastSeq, end?.done], [[], 3, true]);
      assert.equal(await store().readOutput(newTask().id, 0, 10), undefined);
    });

    it('stores a resent chunk once', async () => {
      const claim = await startTask(store());
      await append(store(), claim, [out(1, 'a'), out(2, 'b')]);
      const again = await append(store(), claim, [out(2, 'b'), out(3, 'c')]);
      assert.deepEqual(again, { storedThrough: 3, lastSeq: 3, added: 1 });
      assert.deepEqual(await readAll(store(), claim.task.id), ['a', 'b', 'c']);
    });

    it('refuses output under a lost lease and keeps bytes that are not UTF-8', async () => {
      const claim = await startTask(store());
      assert.equal(
        await append(store(), { ...claim, leaseToken: 'stale' }, [out(1, 'x')]),
        undefined,
      );
      const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x41]).toString('base64');
      await append(store(), claim, [{ seq: 1, stream: 'stdout', data: bytes, encoding: 'base64' }]);
      const page = await store().readOutput(claim.task.id, 0, 10);
      assert.equal(page?.chunks[0]?.encoding, 'base64');
      assert.deepEqual(
        Buffer.from(page.chunks[0].data, 'base64'),
        Buffer.from([0xff, 0xfe, 0, 0x41]),
      );
    });

    it('keeps the head and the tail past the cap, with one marker counting what was left out', async () => {
      const claim = await startTask(store());
      const chunks = Array.from({ length: 10 }, (_, i) => out(i + 1, String(i).repeat(10)));
      await append(store(), claim, chunks.slice(0, 4), 40);
      await append(store(), claim, chunks.slice(4), 40);
      // Head 20 bytes (chunks 0-1), tail 20 bytes (chunks 8-9): 60 bytes left out.
      assert.deepEqual(await readAll(store(), claim.task.id), [
        '0'.repeat(10),
        '1'.repeat(10),
        '[60]',
        '8'.repeat(10),
        '9'.repeat(10),
      ]);
      const page = await store().readOutput(claim.task.id, 2, 10);
      assert.equal(page?.chunks[0]?.seq, 8, 'the marker takes the last left-out seq');
      assert.equal(page?.omittedBytes, 60);
      const after = await store().readOutput(claim.task.id, 8, 10);
      assert.deepEqual(
        after?.chunks.map((c) => c.seq),
        [9, 10],
      );
    });

    it('marks and counts output the runner dropped, once per reported increase', async () => {
      const claim = await startTask(store());
      const { leaseToken } = claim;
      const taskId = claim.task.id;
      const send = (chunks: OutputChunk[], droppedBytes: number) =>
        store().appendOutput({ taskId, leaseToken, chunks, capBytes: CAP, droppedBytes, now: T0 });
      await send([out(1, 'a')], 0);
      await send([out(5, 'e')], 300);
      await send([out(6, 'f')], 300);
      await send([out(6, 'f')], 300);
      const page = await store().readOutput(taskId, 0, 10);
      assert.deepEqual(
        page?.chunks.map((c) => c.data.trim()),
        [
          'a',
          '[outpost: 300 bytes of output were dropped by the runner (its spool was full)]',
          'e',
          'f',
        ],
      );
      assert.equal(page?.chunks[1]?.stream, 'stderr');
      assert.equal(page?.omittedBytes, 300);
    });

    it('numbers a retried attempt after the first and restarts the runner seq', async () => {
      const first = await startTask(store(), { maxAttempts: 2 });
      const id = first.task.id;
      await append(store(), first, [out(1, 'one')]);
      const retry = { baseMs: 0, maxMs: 0, jitter: 1 };
      const { leaseToken } = first;
      await store().finishAttempt({ taskId: id, leaseToken, outcome: FAILED, now: T0 + 2, retry });
      const second = await claimOne(store(), { now: T0 + 3 });
      assert.equal((await append(store(), second, [out(1, 'two')]))?.lastSeq, 2);
      const page = await store().readOutput(id, 0, 10);
      assert.deepEqual(
        page?.chunks.map((c) => [c.seq, c.attempt, c.data]),
        [
          [1, 1, 'one'],
          [2, 2, 'two'],
        ],
      );
    });
  });
}
