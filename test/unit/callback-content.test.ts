// What callbacks say (the answer, failure notices with a short session id, the webhook body) and
// how a 429 is read (retry_after in the body, Retry-After seconds or date, Discord's bucket headers).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredTask } from '../../src/store/types.ts';
import type { Outcome } from '../../src/protocol/tasks.ts';
import {
  answerText,
  chatMessage,
  deliveryFailureNotice,
  shortSessionId,
  webhookBody,
} from '../../src/server/callbacks/callback-content.ts';
import { bucketPauseMs, retryAfter } from '../../src/server/callbacks/post-json.ts';
import { signWebhook } from '../../src/server/callbacks/webhook-request.ts';
import { redact } from '../../src/server/callbacks/deliver-callback.ts';

function task(outcome: Outcome | undefined, extra: Partial<StoredTask> = {}): StoredTask {
  return {
    id: 'task-1',
    kind: 'shell',
    spec: {},
    state: outcome?.status ?? 'queued',
    priority: 0,
    runAt: 0,
    timeoutMs: 1000,
    maxAttempts: 1,
    retryOnFailure: false,
    attempt: 1,
    createdAt: 0,
    updatedAt: 0,
    cancelRequested: false,
    origin: 'v1',
    finishedAt: 5,
    ...(outcome ? { outcome } : {}),
    ...extra,
  };
}

describe('callback content', () => {
  it('takes an agent’s final text, else stdout, else a file’s content', () => {
    const agent = { agent: 'claude', text: 'final', resumed: false };
    assert.equal(answerText(task({ status: 'succeeded', stdout: 'raw', output: agent })), 'final');
    assert.equal(answerText(task({ status: 'succeeded', stdout: 'out' })), 'out');
    const file = { content: 'file text', encoding: 'utf8', bytes: 9 };
    assert.equal(answerText(task({ status: 'succeeded', output: file })), 'file text');
    assert.equal(answerText(task(undefined)), '');
  });

  it('says (no output) rather than post an empty message', () => {
    assert.equal(chatMessage(task({ status: 'succeeded', stdout: ' \n' })), '(no output)');
  });

  it('leads a failure with the error and the short session id, then any output', () => {
    const outcome: Outcome = {
      status: 'timed_out',
      stdout: 'partial',
      error: { kind: 'timeout', message: 'timed out after 30000 ms', retryable: false },
      metadata: { sessionId: '1234567890abcdef' },
    };
    assert.equal(
      chatMessage(task(outcome)),
      '⚠️ Task timed out: timed out after 30000 ms\nSession: `12345678`\n\npartial',
    );
    assert.equal(
      chatMessage(task({ status: 'failed', exitCode: 2 })),
      '⚠️ Task failed: exit code 2',
    );
  });

  it('finds the session id in the outcome’s metadata or output, or the task’s metadata', () => {
    const output = { agent: 'gemini', text: '', sessionId: 'abcdefghijk', resumed: false };
    assert.equal(shortSessionId(task({ status: 'failed', output })), 'abcdefgh');
    const legacy = task({ status: 'failed' }, { metadata: { sessionId: 'legacy-session-id' } });
    assert.equal(shortSessionId(legacy), 'legacy-s');
    assert.equal(shortSessionId(task({ status: 'failed' })), undefined);
  });

  it('keeps a quoted error short', () => {
    const notice = deliveryFailureNotice(task({ status: 'succeeded' }), 'x'.repeat(5000));
    assert.ok(notice.length < 1200);
    assert.match(notice, /^⚠️ The answer to task task-1 could not be posted: x+…$/);
  });

  it('builds the webhook body from the task alone', () => {
    const outcome: Outcome = {
      status: 'failed',
      exitCode: 1,
      stdout: 'out',
      stderr: 'secret-looking stderr is not sent',
      error: { kind: 'exit', message: 'exit 1', exitCode: 1, retryable: false },
    };
    assert.deepEqual(webhookBody(task(outcome, { sessionKey: 'chan-1' })), {
      taskId: 'task-1',
      kind: 'shell',
      state: 'failed',
      finishedAt: 5,
      sessionKey: 'chan-1',
      text: 'out',
      outcome: { status: 'failed', exitCode: 1, error: { kind: 'exit', message: 'exit 1' } },
    });
  });

  it('signs timestamp.body with HMAC-SHA256 (a known vector)', () => {
    // echo -n '1700000000000.{"a":1}' | openssl dgst -sha256 -hmac 'key-0123456789abcdef'
    assert.equal(
      signWebhook('key-0123456789abcdef', 1_700_000_000_000, '{"a":1}'),
      'sha256=5d5972d652aeb8b35317b0e8214e470f7d519b147f3efe2ff5226055750dd995',
    );
  });

  it('redacts secrets from any error text', () => {
    assert.equal(redact('bad tok-123 here', ['tok-123', undefined]), 'bad [redacted] here');
  });
});

describe('reading a 429', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  const headers = (h: Record<string, string>) => new Headers(h);

  it('prefers retry_after (seconds) in the JSON body', () => {
    assert.equal(retryAfter(headers({ 'retry-after': '9' }), '{"retry_after": 0.25}', now), 250);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    assert.equal(retryAfter(headers({ 'retry-after': '3' }), '', now), 3000);
    const date = new Date(now + 5000).toUTCString();
    assert.equal(retryAfter(headers({ 'retry-after': date }), 'not json', now), 5000);
  });

  it('falls back to a second, and caps absurd waits at an hour', () => {
    assert.equal(retryAfter(headers({}), '', now), 1000);
    assert.equal(retryAfter(headers({}), '{"retry_after": 1e9}', now), 3_600_000);
    assert.equal(retryAfter(headers({ 'retry-after': '-5' }), '', now), 0);
  });

  it('pauses before the next part only when the bucket is empty', () => {
    const empty = headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': '1.5' });
    assert.equal(bucketPauseMs(empty), 1500);
    assert.equal(bucketPauseMs(headers({ 'x-ratelimit-remaining': '3' })), 0);
  });
});
