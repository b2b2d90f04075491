// `outpost schedule add|list|show|rm` as real processes against a server on loopback whose clock
// the test moves, so a slot comes without waiting a minute; the task it fires shows up in the CLI.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAppOn, type TestApp } from '../helpers/app.ts';
import { cleanEnv, runCli } from '../helpers/processes.ts';
import { ADMIN_TOKEN } from '../helpers/app.ts';
import type { Schedule, ScheduleList } from '../../src/protocol/schedules.ts';
import type { Task } from '../../src/protocol/tasks.ts';

const T0 = Date.UTC(2024, 0, 15, 10, 2, 30);

describe('outpost schedule', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-schedule-cli-'));
  const clock = { at: T0, now: () => clock.at };
  let t: TestApp;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    t = await buildAppOn(join(dir, 'outpost.db'), { scheduleBackstopMs: 600_000 }, clock);
    const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
    env = cleanEnv({
      OUTPOST_URL: url,
      OUTPOST_TOKEN: ADMIN_TOKEN,
      OUTPOST_DATA_DIR: join(dir, 'client'),
    });
  });
  after(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds, lists, shows and removes a schedule, and shows the task it fired', async () => {
    const add = await runCli(
      ['schedule', 'add', '--cron', '*/5 * * * *', '--name', 'tick', '--tz', 'Europe/Paris'],
      env,
    );
    assert.equal(add.code, 2, 'a command or --kind/--spec is required');
    const added = await runCli(
      [
        'schedule',
        'add',
        '--cron',
        '*/5 * * * *',
        '--name',
        'tick',
        '--tz',
        'Europe/Paris',
        '--overlap',
        'allow',
        '--priority',
        '3',
        '--',
        'echo',
        'tick',
      ],
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    const id = added.stdout.trim();
    assert.match(added.stderr, /next run 2024-01-15 10:05:00 UTC/);

    const listed = await runCli(['schedule', 'list'], env);
    assert.match(
      listed.stdout,
      new RegExp(`${id} +tick +\\*/5 \\* \\* \\* \\* +Europe/Paris +allow`),
    );
    const json = (await runCli(['schedule', 'list', '--json'], env)).stdout;
    const [schedule] = (JSON.parse(json) as ScheduleList).schedules;
    assert.deepEqual(schedule?.task, {
      kind: 'shell',
      spec: { command: ['echo', 'tick'] },
      priority: 3,
    });

    clock.at = Date.UTC(2024, 0, 15, 10, 5);
    assert.equal((await t.app.schedules.fireDue()).fired, 1);
    const shown = await runCli(['schedule', 'show', id, '--json'], env);
    const after = JSON.parse(shown.stdout) as Schedule;
    assert.equal(after.fired, 1);
    const task = (await runCli(['show', after.lastTaskId!, '--json'], env)).stdout;
    assert.equal((JSON.parse(task) as Task).scheduleId, id);
    const table = await runCli(['schedule', 'show', id], env);
    assert.match(table.stdout, /last task +\S+/);
    assert.match(table.stdout, /what +echo tick/);

    const removed = await runCli(['schedule', 'rm', id], env);
    assert.equal(removed.code, 0, removed.stderr);
    const gone = await runCli(['schedule', 'show', id], env);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /not found/);
  });

  it('reports a bad cron expression or time zone naming the field', async () => {
    const cron = await runCli(['schedule', 'add', '--cron', 'often', '--', 'true'], env);
    assert.equal(cron.code, 2);
    assert.match(cron.stderr, /cron: not a valid five-field cron expression/);
    const tz = await runCli(
      ['schedule', 'add', '--cron', '@daily', '--tz', 'Nowhere/City', '--', 'true'],
      env,
    );
    assert.equal(tz.code, 2);
    assert.match(tz.stderr, /timezone: unknown time zone "Nowhere\/City"/);
    const overlap = await runCli(
      ['schedule', 'add', '--cron', '@daily', '--overlap', 'x', '--', 'true'],
      env,
    );
    assert.equal(overlap.code, 2);
    assert.match(overlap.stderr, /--overlap must be one of skip, allow/);
  });
});
