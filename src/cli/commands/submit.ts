// `outpost submit`: queue a task of any kind without waiting; prints its id.
import type { Command } from 'commander';
import { AppError } from '../../protocol/errors.ts';
import { KINDS, type CreateTaskBody, type Kind } from '../../protocol/tasks.ts';
import type { ConnectionFlags } from '../connection.ts';
import { clientOptionsOf, withTaskClientOptions, type SigningFlags } from '../signing-key.ts';
import { parseDurationOption, parseIntOption } from '../options.ts';
import { placementFields, withPlacementOptions, type PlacementFlags } from '../task-flags.ts';
import { printJson } from '../output.ts';

/** The flags that shape a task body; `outpost schedule add` takes them too. */
export interface TaskBodyFlags extends PlacementFlags {
  kind?: string;
  spec?: string;
  timeout?: number;
  maxAttempts?: number;
}

interface SubmitFlags extends ConnectionFlags, SigningFlags, TaskBodyFlags {
  idempotencyKey?: string;
  json?: boolean;
}

/** Adds the task body options: --kind, --spec, --timeout, --max-attempts and the placement ones. */
export function withTaskBodyOptions(cmd: Command): Command {
  return withPlacementOptions(
    cmd
      .option('--kind <kind>', `task kind: ${KINDS.join(', ')}`)
      .option('--spec <json>', 'the task spec as JSON, e.g. \'{"path":"notes.txt"}\'')
      .option(
        '--timeout <duration>',
        'time limit (e.g. 30s, 10m)',
        parseDurationOption('--timeout'),
      )
      .option(
        '--max-attempts <n>',
        'attempts before giving up',
        parseIntOption('--max-attempts', 1),
      ),
  );
}

export function registerSubmit(program: Command): void {
  withTaskClientOptions(
    withTaskBodyOptions(
      program
        .command('submit')
        .description(
          'Queue a task without waiting (a shell command, or any kind with --kind and --spec)',
        )
        .argument('[command...]', 'a shell command (as for `outpost run`)'),
    )
      .option('--idempotency-key <key>', 'a repeat with the same key returns the first task')
      .option('--json', 'print the task as JSON'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  outpost submit -- ./backup.sh\n  outpost submit --at +10m --priority 5 --concurrency-key deploy -- ./deploy.sh\n  outpost submit --kind file.read --spec \'{"path":"notes.txt"}\'',
    )
    .action(async (command: string[], flags: SubmitFlags) => {
      const { OutpostClient } = await import('../../sdk/client.ts');
      const client = new OutpostClient(clientOptionsOf(flags));
      const task = await client.createTask(buildTaskBody(command, flags), {
        idempotencyKey: flags.idempotencyKey,
      });
      if (flags.json) printJson(task);
      else process.stdout.write(`${task.id}\n`);
    });
}

/** The task body from a command after `--`, or from --kind and --spec; never both. */
export function buildTaskBody(command: string[], flags: TaskBodyFlags): CreateTaskBody {
  const base = {
    ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
    ...(flags.maxAttempts !== undefined ? { maxAttempts: flags.maxAttempts } : {}),
    ...placementFields(flags),
  };
  if (command.length > 0) {
    if (flags.kind || flags.spec)
      throw new AppError('bad_request', 'Give either a command or --kind/--spec, not both');
    return {
      ...base,
      kind: 'shell',
      spec: { command: command.length === 1 ? command[0]! : command },
    };
  }
  if (!flags.kind || !flags.spec)
    throw new AppError('bad_request', 'Give a command after --, or both --kind and --spec');
  if (!(KINDS as readonly string[]).includes(flags.kind)) {
    throw new AppError(
      'bad_request',
      `--kind must be one of ${KINDS.join(', ')}; got "${flags.kind}"`,
    );
  }
  return { ...base, kind: flags.kind as Kind, spec: parseSpec(flags.spec) };
}

function parseSpec(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('bad_request', '--spec is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppError('bad_request', '--spec must be a JSON object');
  }
  return value as Record<string, unknown>;
}
