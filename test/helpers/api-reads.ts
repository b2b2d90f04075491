// Reads everything a client or admin can read back through the API (v1 and legacy), as raw
// text, so a test can search it all for a string that must never come out (a bot token).
import assert from 'node:assert/strict';

export interface Read {
  what: string;
  body: string;
}

/**
 * Every read route, for the server at `url`, about `taskIds` and in general. The SSE stream of a
 * task only ends with the task, so it is read only when `ended`.
 */
export async function readEverything(
  url: string,
  token: string,
  taskIds: string[],
  { ended = true } = {},
): Promise<Read[]> {
  const perTask = taskIds.flatMap((id) => [
    `/v1/tasks/${id}`,
    `/v1/tasks/${id}/logs`,
    ...(ended ? [`/v1/tasks/${id}/events`] : []),
    `/tasks/${id}`,
    `/events?taskId=${id}`,
  ]);
  const general = [
    '/v1/tasks?limit=500',
    '/v1/events?limit=1000',
    '/events?limit=500',
    '/events/stats',
    '/tasks/stats',
    '/v1/stats',
    '/v1/runners',
    '/v1/tokens',
  ];
  const reads: Read[] = [];
  for (const path of [...perTask, ...general]) {
    const res = await fetch(`${url}${path}`, {
      headers: { authorization: `Bearer ${token}` },
      // The SSE stream of an ended task closes by itself; the timeout only guards the test.
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(res.status, 200, `GET ${path}`);
    reads.push({ what: `GET ${path}`, body: await res.text() });
  }
  return reads;
}

/** Fails naming the first read that contains any of `secrets`. */
export function assertNoSecrets(reads: readonly Read[], secrets: readonly string[]): void {
  for (const { what, body } of reads) {
    for (const secret of secrets) {
      assert.ok(!body.includes(secret), `${what} contains a secret:\n${body.slice(0, 2000)}`);
    }
  }
}
