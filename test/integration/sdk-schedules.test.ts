// The SDK's schedule methods against the real server over loopback HTTP: replies validated, and a
// refused schedule or an unknown id surfacing as an AppError with the server's code and message.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/protocol/errors.ts';
import { OutpostClient } from '../../src/sdk/client.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const TASK = { kind: 'shell' as const, spec: { command: 'date' } };

describe('OutpostClient schedules', () => {
  let server: TestServer;
  let client: OutpostClient;

  before(async () => {
    server = await startTestServer();
    client = new OutpostClient({ baseUrl: server.url, token: server.token });
  });
  after(() => server.close());

  it('creates, lists, gets and deletes a schedule', async () => {
    const before = Date.now();
    const created = await client.createSchedule({ cron: '@hourly', name: 'sdk', task: TASK });
    assert.ok(created.nextRunAt !== undefined && created.nextRunAt > before);
    assert.equal(created.nextRunAt % 3_600_000, 0);
    const { schedules } = await client.listSchedules({ limit: 10 });
    assert.deepEqual(
      schedules.map((s) => s.id),
      [created.id],
    );
    assert.deepEqual(await client.getSchedule(created.id), created);
    assert.deepEqual(await client.deleteSchedule(created.id), { deleted: true });
    await assert.rejects(
      client.getSchedule(created.id),
      (err) => err instanceof AppError && err.code === 'not_found',
    );
  });

  it('rejects a bad schedule with bad_request naming the field', async () => {
    await assert.rejects(
      client.createSchedule({ cron: '* * *', task: TASK }),
      (err) => err instanceof AppError && err.code === 'bad_request' && /^cron:/.test(err.message),
    );
    await assert.rejects(
      client.createSchedule({ cron: '@daily', task: { kind: 'file.read', spec: {} } }),
      (err) => err instanceof AppError && err.message.includes('task.spec.path: is required'),
    );
  });
});
