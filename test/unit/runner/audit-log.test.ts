// The audit log's writes: decisions and starts reach the file before the runner acts on them,
// `received` and `ended` entries join the next write (or the end of the turn), in order.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { auditPathOf, openAuditLog } from '../../../src/runner/audit/audit-log.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'outpost-audit-'));
const events = (): string[] => {
  let text = '';
  try {
    text = readFileSync(auditPathOf(dataDir), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const entry = JSON.parse(line) as { event: string; taskId: string; message?: string };
      return `${entry.taskId} ${entry.event}${entry.message ? ` ${entry.message}` : ''}`;
    });
};
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('audit log', () => {
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const audit = openAuditLog({ dataDir, secrets: ['s3cret'], log: () => {} });
  const ids = (taskId: string) => ({ taskId, attempt: 1 });

  it('writes a decision at once, with the entries waiting before it, in order', () => {
    audit.received({ ...ids('a'), kind: 'file.read', spec: { path: 'x' } });
    assert.deepEqual(events(), [], 'received waits');
    audit.record(
      { ...ids('a'), event: 'decision', decision: 'ran', message: 'token s3cret' },
      { ...ids('a'), event: 'started' },
    );
    assert.deepEqual(events(), ['a received', 'a decision token [redacted]', 'a started']);
  });

  it('writes what waits at the end of the turn', async () => {
    audit.record({ ...ids('a'), event: 'ended', status: 'succeeded' });
    audit.received({ ...ids('b'), kind: 'file.read', spec: { path: 'y' } });
    assert.equal(events().length, 3);
    await turn();
    assert.deepEqual(events().slice(3), ['a ended', 'b received']);
  });

  it('writes what waits when closed', () => {
    audit.record({ ...ids('b'), event: 'ended', status: 'failed' });
    audit.close();
    assert.deepEqual(events().slice(5), ['b ended']);
  });
});
