// `outpost run -- <command...>`: submit a shell task, print its output live to the right local
// streams and exit with the remote exit code. Ctrl-C cancels the remote task; a second detaches.
import type { Command } from 'commander';
import type { Task } from '../../protocol/tasks.ts';
import type { OutpostClient } from '../../sdk/index.ts';
import type { ConnectionFlags } from '../connection.ts';
import { clientOptionsOf, withTaskClientOptions, type SigningFlags } from '../signing-key.ts';
import { parseDurationOption } from '../options.ts';
import { exitCodeOf, printJson } from '../output.ts';
import { writeChunk } from '../live-output.ts';
import { followTask, type FollowClient } from '../follow-task.ts';
import { placementFields, withPlacementOptions, type PlacementFlags } from '../task-flags.ts';
import { taskWaitingLine, watchWaiting } from '../wait-notice.ts';

interface RunFlags extends ConnectionFlags, SigningFlags, PlacementFlags {
  timeout?: number;
  cwd?: string;
  json?: boolean;
}

export function registerRun(program: Command): void {
  withTaskClientOptions(
    withPlacementOptions(
      program
        .command('run')
        .description(
          'Run a command on a runner, stream its result back and exit with its exit code',
        )
        .argument(
          '<command...>',
          "one argument runs through the runner's shell; several run as argv without a shell",
        ),
    )
      .option(
        '--timeout <duration>',
        'kill the command after this long (e.g. 30s, 10m; default 30s)',
        parseDurationOption('--timeout'),
      )
      .option('--cwd <dir>', 'working directory on the runner (inside its roots)')
      .option('--json', 'print each output chunk as a JSON line, then the finished task as JSON'),
  )
    .usage('[options] -- <command...>')
    .addHelpText(
      'after',
      "\nExamples:\n  outpost run -- make test\n  outpost run --runner gpu -- sh -c 'nvidia-smi; echo done'\n  outpost run --require-labels gpu,linux --priority 10 -- ./train.sh",
    )
    .action(async (command: string[], flags: RunFlags) => {
      const { OutpostClient } = await import('../../sdk/index.ts');
      const client = new OutpostClient(clientOptionsOf(flags));
      const spec = {
        command: command.length === 1 ? command[0]! : command,
        ...(flags.cwd ? { cwd: flags.cwd } : {}),
      };
      const body = {
        kind: 'shell' as const,
        spec,
        ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
        ...placementFields(flags),
      };
      const created = await client.createTask(body);
      process.exitCode = await follow(client, created, flags.json === true);
    });
}

type RunClient = FollowClient & Pick<OutpostClient, 'getTask'>;

/** Prints the task's output live until it ends (see followTask for Ctrl-C), then its exit code. */
async function follow(client: RunClient, task: Task, json: boolean): Promise<number> {
  let printed = 0;
  const waiting = new AbortController();
  const watcher = watchWaiting(client, task, taskWaitingLine, waiting.signal);
  let done: Task | undefined;
  try {
    done = await followTask(client, task, (chunk) => {
      waiting.abort(); // output means it runs
      writeChunk(chunk, json);
      printed += 1;
    });
  } finally {
    waiting.abort();
    await watcher;
  }
  if (!done) return 130;
  if (json) return (printJson(done), exitCodeOf(done));
  // A runner that does not stream (an old one) leaves the output in the result only.
  return printOutcome(done, printed === 0);
}

function printOutcome(task: Task, withStreams: boolean): number {
  const outcome = task.outcome;
  if (withStreams && outcome?.stdout) process.stdout.write(outcome.stdout);
  if (withStreams && outcome?.stderr) process.stderr.write(outcome.stderr);
  const code = exitCodeOf(task);
  if (outcome && outcome.status !== 'succeeded' && outcome.error?.kind !== 'exit') {
    // A refusal names the runner's rule, so the person knows which setting said no.
    const rule = outcome.error?.rule ? ` [${outcome.error.rule}]` : '';
    process.stderr.write(
      `outpost: task ${task.id} ${outcome.status}: ${outcome.error?.message ?? ''}${rule}\n`,
    );
  }
  return code;
}
