// The outcome reporter's batching: outcomes that end in one turn of the event loop leave in one
// finish request, a lone outcome leaves without waiting for a timer, and outcomes that end while
// a request is in flight make the next batch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FinishBody } from '../../../src/protocol/runner.ts';
import type { OutpostClient } from '../../../src/sdk/client.ts';
import { OutcomeReporter } from '../../../src/runner/outcome-reporter.ts';

/** A client whose finish requests are recorded (0 for a single outcome) and answered on demand. */
function fakeClient() {
  const sent: number[] = [];
  const replies: (() => void)[] = [];
  const answer = <T>(value: T): Promise<T> =>
    new Promise((resolve) => replies.push(() => resolve(value)));
  const client = {
    finishAttempt: (_body: FinishBody) => {
      sent.push(0);
      return answer({ state: 'succeeded' });
    },
    finishAttempts: (bodies: FinishBody[]) => {
      sent.push(bodies.length);
      return answer({ results: bodies.map((b) => ({ taskId: b.taskId, state: 'succeeded' })) });
    },
  } as unknown as OutpostClient;
  const replyAll = (): void => replies.splice(0).forEach((reply) => reply());
  return { client, sent, replyAll };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function reporterFor(client: OutpostClient): OutcomeReporter {
  const retry = { retryBaseMs: 10, retryMaxMs: 100 };
  return new OutcomeReporter({ client, log: () => {}, retry, windowMs: 1_000 });
}

const body = (n: number): FinishBody => ({
  taskId: `0190b0a0-0000-7000-8000-00000000000${n}`,
  leaseToken: 'lease',
  outcome: { status: 'succeeded' },
});

describe('outcome reporter', () => {
  it('sends the outcomes of one turn in one request, and a lone outcome on its own', async () => {
    const { client, sent, replyAll } = fakeClient();
    const reporter = reporterFor(client);
    const together = [1, 2, 3].map((n) => reporter.report(body(n)));
    await turn();
    assert.deepEqual(sent, [3]);
    replyAll();
    assert.deepEqual(await Promise.all(together), ['reported', 'reported', 'reported']);
    const alone = reporter.report(body(4));
    await turn();
    assert.deepEqual(sent, [3, 0]);
    replyAll();
    assert.equal(await alone, 'reported');
  });

  it('batches the outcomes that end while a request is in flight', async () => {
    const { client, sent, replyAll } = fakeClient();
    const reporter = reporterFor(client);
    const first = reporter.report(body(1));
    await turn();
    const later = [2, 3].map((n) => reporter.report(body(n)));
    await turn();
    assert.deepEqual(sent, [0], 'nothing more leaves while the first request is in flight');
    replyAll();
    assert.equal(await first, 'reported');
    await turn();
    assert.deepEqual(sent, [0, 2]);
    replyAll();
    assert.deepEqual(await Promise.all(later), ['reported', 'reported']);
    assert.equal(reporter.requests, 2);
  });
});
