// `outpost run -- <command...>`: submit a shell task, wait, print its stdout and stderr to the
// right streams and exit with the remote exit code. Ctrl-C cancels the remote task.
import type { Command } from 'commander';
import type { Task } from '../../protocol/tasks.ts';
import { loadConnection, withConnectionOptions, type ConnectionFlags } from '../connection.ts';
import { parseDurationOption } from '../options.ts';
import { exitCodeOf, printJson } from '../output.ts';

interface RunFlags extends ConnectionFlags {
  runner?: string;
  timeout?: number;
  cwd?: string;
  json?: boolean;
}

export function registerRun(program: Command): void {
  withConnectionOptions(
    program
      .command('run')
      .description('Run a command on a runner, stream its result back and exit with its exit code')
      .argument(
        '<command...>',
        "one argument runs through the runner's shell; several run as argv without a shell",
      )
      .option('--runner <name>', 'run on this runner')
      .option(
        '--timeout <duration>',
        'kill the command after this long (e.g. 30s, 10m; default 30s)',
        parseDurationOption('--timeout'),
      )
      .option('--cwd <dir>', 'working directory on the runner (inside its roots)')
      .option('--json', 'print the finished task as JSON instead of its output'),
  )
    .usage('[options] -- <command...>')
    .addHelpText(
      'after',
      "\nExamples:\n  outpost run -- make test\n  outpost run --runner gpu -- sh -c 'nvidia-smi; echo done'",
    )
    .action(async (command: string[], flags: RunFlags) => {
      const { OutpostClient } = await import('../../sdk/client.ts');
      const client = new OutpostClient(loadConnection(flags));
      const spec = {
        command: command.length === 1 ? command[0]! : command,
        ...(flags.cwd ? { cwd: flags.cwd } : {}),
      };
      const body = {
        kind: 'shell' as const,
        spec,
        ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
        ...(flags.runner ? { target: { runner: flags.runner } } : {}),
      };
      const created = await client.createTask(body, { waitMs: 60_000 });
      const task = await waitWithCancel(client, created);
      process.exitCode = flags.json ? (printJson(task), exitCodeOf(task)) : printOutcome(task);
    });
}

interface WaitClient {
  waitForTask(id: string, opts?: { signal?: AbortSignal }): Promise<Task>;
  cancelTask(id: string): Promise<Task>;
}

/** Waits for the task; the first Ctrl-C cancels it remotely and waits for the confirmation. */
async function waitWithCancel(client: WaitClient, task: Task): Promise<Task> {
  if (task.outcome) return task;
  const onInterrupt = (): void => {
    process.stderr.write(`outpost: cancelling task ${task.id}…\n`);
    client
      .cancelTask(task.id)
      .catch((err: unknown) => process.stderr.write(`outpost: cancel failed: ${String(err)}\n`));
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await client.waitForTask(task.id);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function printOutcome(task: Task): number {
  const outcome = task.outcome;
  if (outcome?.stdout) process.stdout.write(outcome.stdout);
  if (outcome?.stderr) process.stderr.write(outcome.stderr);
  const code = exitCodeOf(task);
  if (outcome && outcome.status !== 'succeeded' && outcome.error?.kind !== 'exit') {
    process.stderr.write(
      `outpost: task ${task.id} ${outcome.status}: ${outcome.error?.message ?? ''}\n`,
    );
  }
  return code;
}
