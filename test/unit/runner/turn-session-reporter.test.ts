// The runner's early report of a turn's session id over real HTTP to a scripted server: in order,
// one quick retry on a transient failure, one log line when it gives up, silence on lease_lost,
// and no reporter at all for a task with no session to keep.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { Claim } from '../../../src/protocol/runner.ts';
import type { Task } from '../../../src/protocol/tasks.ts';
import { OutpostClient } from '../../../src/sdk/client.ts';
import type { RunnerLog } from '../../../src/runner/runner-log.ts';
import { createTurnSessionReporter } from '../../../src/runner/turn-session-reporter.ts';
import { startRawServer, type RawServer } from '../../helpers/server.ts';
import { waitFor } from './exec-fixtures.ts';

type Reply = 'ok' | 'unavailable' | 'lease_lost';

const STATUS: Record<Reply, number> = { ok: 200, unavailable: 503, lease_lost: 409 };

function answer(res: ServerResponse, reply: Reply): void {
  const body =
    reply === 'ok' ? { recorded: true } : { error: { code: reply, message: `scripted ${reply}` } };
  res.writeHead(STATUS[reply], { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function claimOf(task: Partial<Task>): Claim {
  const base = { id: 'task_1', kind: 'agent', spec: { agent: 'claude', prompt: 'hi' } };
  return {
    task: { ...base, sessionKey: 'chan-1', ...task } as Task,
    attempt: 1,
    leaseToken: 'lease-1',
    leaseExpiresAt: 0,
  };
}

describe('reporting a running turn’s session id', () => {
  const servers: RawServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  /** A server answering the scripted replies in turn (then `ok`), and the reports it received. */
  async function setUp(script: Reply[]) {
    const received: string[] = [];
    const server = await startRawServer((_req, res, body) => {
      received.push((JSON.parse(body) as { providerSessionId: string }).providerSessionId);
      answer(res, script.shift() ?? 'ok');
    });
    servers.push(server);
    const logs: string[] = [];
    const log: RunnerLog = (level, msg) => logs.push(`${level}: ${msg}`);
    const client = new OutpostClient({ baseUrl: server.url, token: 't' });
    const deps = { client, log, retry: { retryBaseMs: 10, retryMaxMs: 20 } };
    return { deps, received, logs };
  }

  it('retries a transient failure once, and keeps reports in order', async () => {
    const { deps, received, logs } = await setUp(['unavailable']);
    const report = createTurnSessionReporter(deps, claimOf({}));
    report?.('sess-refused');
    report?.('sess-fresh');
    assert.ok(await waitFor(() => received.length === 3), JSON.stringify(received));
    assert.deepEqual(received, ['sess-refused', 'sess-refused', 'sess-fresh']);
    assert.deepEqual(logs, []);
  });

  it('gives up after a second failure with one log line; a lost lease says nothing', async () => {
    const { deps, received, logs } = await setUp(['unavailable', 'unavailable', 'lease_lost']);
    const report = createTurnSessionReporter(deps, claimOf({}));
    report?.('sess-a');
    report?.('sess-b');
    assert.ok(await waitFor(() => received.length === 3), JSON.stringify(received));
    await new Promise((resolve) => setTimeout(resolve, 50)); // nothing more may come
    assert.deepEqual(received, ['sess-a', 'sess-a', 'sess-b']);
    assert.deepEqual(logs, ["warn: could not report the turn's session id; its finish will"]);
  });

  it('has nothing to report for a turn without a session key or a task of another kind', () => {
    const client = new OutpostClient({ baseUrl: 'http://127.0.0.1:9', token: 't' });
    const deps = { client, log: () => {}, retry: { retryBaseMs: 10, retryMaxMs: 20 } };
    assert.equal(createTurnSessionReporter(deps, claimOf({ sessionKey: undefined })), undefined);
    assert.equal(createTurnSessionReporter(deps, claimOf({ kind: 'shell' })), undefined);
  });
});
