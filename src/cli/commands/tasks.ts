// `outpost tasks`, `outpost show <id>` and `outpost cancel <id>`.
import type { Command } from 'commander';
import { KINDS, STATES, type Kind, type Task, type TaskState } from '../../protocol/tasks.ts';
import { loadConnection, withConnectionOptions, type ConnectionFlags } from '../connection.ts';
import { parseDurationOption, parseIntOption } from '../options.ts';
import { describeTask, exitCodeOf, formatTime, printJson, printTable } from '../output.ts';

interface ListFlags extends ConnectionFlags {
  state?: TaskState;
  kind?: Kind;
  runner?: string;
  limit?: number;
  cursor?: string;
  json?: boolean;
}

interface ShowFlags extends ConnectionFlags {
  wait?: number;
  json?: boolean;
}

async function clientFor(flags: ConnectionFlags) {
  const { OutpostClient } = await import('../../sdk/client.ts');
  return new OutpostClient(loadConnection(flags));
}

export function registerTaskCommands(program: Command): void {
  withConnectionOptions(program.command('tasks').description('List tasks, newest first'))
    .option('--state <state>', `only this state: ${STATES.join(', ')}`)
    .option('--kind <kind>', `only this kind: ${KINDS.join(', ')}`)
    .option('--runner <name>', 'only tasks of this runner')
    .option('--limit <n>', 'how many (default 50)', parseIntOption('--limit', 1))
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--json', 'print JSON')
    .action(async (flags: ListFlags) => {
      const client = await clientFor(flags);
      const { json, url: _url, token: _token, ...filter } = flags;
      const page = await client.listTasks(filter);
      if (json) return printJson(page);
      printTable([
        ['ID', 'STATE', 'KIND', 'RUNNER', 'CREATED', 'WHAT'],
        ...page.tasks.map((t) => [
          t.id,
          t.state,
          t.kind,
          t.runner ?? '-',
          formatTime(t.createdAt),
          describeTask(t).slice(0, 60),
        ]),
      ]);
      if (page.nextCursor) process.stdout.write(`(more: --cursor ${page.nextCursor})\n`);
    });

  withConnectionOptions(
    program.command('show').description('Show one task and its outcome').argument('<id>'),
  )
    .option(
      '--wait <duration>',
      'wait up to this long for it to end (e.g. 30s)',
      parseDurationOption('--wait'),
    )
    .option('--json', 'print JSON')
    .action(async (id: string, flags: ShowFlags) => {
      const client = await clientFor(flags);
      const task = await client.getTask(id, { waitMs: Math.min(flags.wait ?? 0, 60_000) });
      if (flags.json) printJson(task);
      else printTask(task);
    });

  withConnectionOptions(
    program
      .command('cancel')
      .description('Cancel a task; waits until a running one has stopped')
      .argument('<id>'),
  )
    .option(
      '--wait <duration>',
      'how long to wait for a running task to stop (default 30s)',
      parseDurationOption('--wait'),
    )
    .option('--json', 'print JSON')
    .action(async (id: string, flags: ShowFlags) => {
      const client = await clientFor(flags);
      let task = await client.cancelTask(id);
      if (!task.outcome)
        task = await client.getTask(id, { waitMs: Math.min(flags.wait ?? 30_000, 60_000) });
      if (flags.json) return printJson(task);
      process.stdout.write(cancelMessage(task));
      process.exitCode = task.outcome ? 0 : 1;
    });
}

function cancelMessage(task: Task): string {
  if (!task.outcome) return `Cancel requested for ${task.id}; it is still ${task.state}.\n`;
  if (task.state === 'cancelled') {
    const how = task.outcome.error?.message;
    return `Task ${task.id} cancelled${how ? ` (${how})` : ''}.\n`;
  }
  return `Task ${task.id} had already ended: ${task.state}.\n`;
}

function describeTarget(target: NonNullable<Task['target']>): string {
  const parts = [];
  if (target.runner) parts.push(`runner ${target.runner}`);
  if (target.labels?.length) parts.push(`labels ${target.labels.join(',')}`);
  return parts.join(', ') || '-';
}

function printTask(task: Task): void {
  const rows = [
    ['id', task.id],
    ['kind', task.kind],
    ['state', task.state],
    ['what', describeTask(task)],
    ['runner', task.runner ?? '-'],
    ...(task.waitReason ? [['waiting', task.waitReason]] : []),
    ...(task.target ? [['target', describeTarget(task.target)]] : []),
    ...(task.concurrency
      ? [['concurrency', `${task.concurrency.key} (limit ${task.concurrency.limit})`]]
      : []),
    ['priority', String(task.priority)],
    ['attempt', `${task.attempt} of ${task.maxAttempts}`],
    ['created', formatTime(task.createdAt)],
    ['finished', formatTime(task.finishedAt)],
  ];
  if (task.hold) {
    const { rule, reason, expiresAt, decision } = task.hold;
    rows.push(['held', `${rule}: ${reason} (until ${formatTime(expiresAt)})`]);
    if (decision) rows.push([decision.decision, `by ${decision.by} at ${formatTime(decision.at)}`]);
  }
  if (task.outcome) rows.push(['exit', String(exitCodeOf(task))]);
  if (task.outcome?.error) rows.push(['error', task.outcome.error.message]);
  for (const a of task.attempts ?? []) {
    const ending =
      a.status === undefined ? 'running' : `${a.status}${a.reason ? `: ${a.reason}` : ''}`;
    rows.push([`attempt ${a.attempt}`, `${a.runner} at ${formatTime(a.startedAt)}, ${ending}`]);
  }
  printTable(rows);
  if (task.outcome?.stdout) process.stdout.write(`--- stdout\n${task.outcome.stdout}\n`);
  if (task.outcome?.stderr) process.stdout.write(`--- stderr\n${task.outcome.stderr}\n`);
}
