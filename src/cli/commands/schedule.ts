// `outpost schedule add|list|show|rm`: cron schedules that create a task at each slot.
import type { Command } from 'commander';
import { AppError } from '../../protocol/errors.ts';
import { OVERLAPS, type Overlap, type Schedule } from '../../protocol/schedules.ts';
import { loadConnection, withConnectionOptions, type ConnectionFlags } from '../connection.ts';
import { parseIntOption } from '../options.ts';
import { describeTask, formatTime, printJson, printTable } from '../output.ts';
import { buildTaskBody, withTaskBodyOptions, type TaskBodyFlags } from './submit.ts';

interface AddFlags extends ConnectionFlags, TaskBodyFlags {
  cron: string;
  name?: string;
  tz?: string;
  overlap?: string;
  disabled?: boolean;
  json?: boolean;
}

interface ListFlags extends ConnectionFlags {
  limit?: number;
  cursor?: string;
  json?: boolean;
}

async function clientFor(flags: ConnectionFlags) {
  const { OutpostClient } = await import('../../sdk/client.ts');
  return new OutpostClient(loadConnection(flags));
}

export function registerSchedule(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('Cron schedules that create a task at each slot');
  withConnectionOptions(
    withTaskBodyOptions(
      schedule
        .command('add')
        .description('Add a schedule for a shell command (or any kind with --kind and --spec)')
        .argument('[command...]', 'a shell command (as for `outpost run`)'),
    ),
  )
    .requiredOption('--cron <expr>', "five-field cron expression, e.g. '*/5 * * * *' or @hourly")
    .option('--name <name>', 'a label to recognise it by')
    .option('--tz <zone>', 'IANA time zone the expression is read in (default UTC)')
    .option('--overlap <policy>', 'skip (default: no new task while the last runs) or allow')
    .option('--disabled', 'store it without firing it')
    .option('--json', 'print the schedule as JSON')
    .addHelpText(
      'after',
      "\nExamples:\n  outpost schedule add --cron '0 3 * * *' --tz Europe/Paris -- ./backup.sh\n" +
        '  outpost schedule add --cron \'@hourly\' --kind file.read --spec \'{"path":"log.txt"}\'',
    )
    .action(async (command: string[], flags: AddFlags) => {
      const client = await clientFor(flags);
      const created = await client.createSchedule({
        cron: flags.cron,
        task: buildTaskBody(command, flags),
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.tz !== undefined ? { timezone: flags.tz } : {}),
        ...(flags.overlap !== undefined ? { overlap: parseOverlap(flags.overlap) } : {}),
        ...(flags.disabled ? { enabled: false } : {}),
      });
      if (flags.json) return printJson(created);
      process.stdout.write(`${created.id}\n`);
      const next = created.nextRunAt === undefined ? 'never (disabled)' : when(created.nextRunAt);
      process.stderr.write(`Schedule added; next run ${next}.\n`);
    });

  withConnectionOptions(schedule.command('list').description('List schedules, newest first'))
    .option('--limit <n>', 'how many (default 50)', parseIntOption('--limit', 1))
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--json', 'print JSON')
    .action(async (flags: ListFlags) => {
      const client = await clientFor(flags);
      const page = await client.listSchedules({ limit: flags.limit, cursor: flags.cursor });
      if (flags.json) return printJson(page);
      printTable([
        ['ID', 'NAME', 'CRON', 'TZ', 'OVERLAP', 'NEXT RUN', 'LAST RUN', 'WHAT'],
        ...page.schedules.map((s) => [
          s.id,
          s.name ?? '-',
          s.cron,
          s.timezone ?? 'UTC',
          s.overlap,
          formatTime(s.nextRunAt),
          formatTime(s.lastRunAt),
          describeTask(s.task).slice(0, 50),
        ]),
      ]);
      if (page.nextCursor) process.stdout.write(`(more: --cursor ${page.nextCursor})\n`);
    });

  withConnectionOptions(
    schedule.command('show').description('Show one schedule and its last run').argument('<id>'),
  )
    .option('--json', 'print JSON')
    .action(async (id: string, flags: ConnectionFlags & { json?: boolean }) => {
      const found = await (await clientFor(flags)).getSchedule(id);
      if (flags.json) printJson(found);
      else printSchedule(found);
    });

  withConnectionOptions(
    schedule
      .command('rm')
      .description('Delete a schedule (the tasks it created stay)')
      .argument('<id>'),
  ).action(async (id: string, flags: ConnectionFlags) => {
    await (await clientFor(flags)).deleteSchedule(id);
    process.stdout.write(`Deleted schedule ${id}.\n`);
  });
}

function parseOverlap(value: string): Overlap {
  if ((OVERLAPS as readonly string[]).includes(value)) return value as Overlap;
  throw new AppError(
    'bad_request',
    `--overlap must be one of ${OVERLAPS.join(', ')}; got "${value}"`,
  );
}

function when(ms: number): string {
  return `${formatTime(ms)} UTC`;
}

function printSchedule(s: Schedule): void {
  const rows = [
    ['id', s.id],
    ['name', s.name ?? '-'],
    ['cron', `${s.cron} (${s.timezone ?? 'UTC'})`],
    ['overlap', s.overlap],
    ['enabled', String(s.enabled)],
    ['what', describeTask(s.task)],
    ['next run', formatTime(s.nextRunAt)],
    ['last run', formatTime(s.lastRunAt)],
    ['last task', s.lastTaskId ?? '-'],
    ['fired', String(s.fired)],
    ['skipped', `${s.skipped}${s.lastSkippedAt ? ` (last ${formatTime(s.lastSkippedAt)})` : ''}`],
  ];
  if (s.lastError) rows.push(['last error', s.lastError]);
  printTable(rows);
}
