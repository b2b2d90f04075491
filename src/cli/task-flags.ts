// Where and when a submitted task runs: the options `outpost run` and `outpost submit` share
// (target runner and labels, priority, start time, concurrency key), parsed by commander.
import { InvalidArgumentError, type Command } from 'commander';
import { AppError } from '../protocol/errors.ts';
import { LIMITS, type CreateTaskBody } from '../protocol/tasks.ts';
import { parseDurationOption, parseListOption } from './options.ts';

export interface PlacementFlags {
  runner?: string;
  requireLabels?: string[];
  priority?: number;
  at?: number;
  concurrencyKey?: string;
  concurrencyLimit?: number;
}

type Placement = Pick<CreateTaskBody, 'target' | 'priority' | 'runAt' | 'concurrency'>;

export function withPlacementOptions(command: Command): Command {
  const { priority, concurrencyLimit: limit } = LIMITS;
  return command
    .option('--runner <name>', 'run on this runner')
    .option(
      '--require-labels <labels>',
      'run only on a runner that has all these labels (comma-separated)',
      parseListOption,
    )
    .option(
      '--priority <n>',
      `higher runs first (${priority.min}…${priority.max}, default 0)`,
      parseIntegerIn('--priority', priority.min, priority.max),
    )
    .option('--at <time>', 'start no earlier than this: an ISO time, or +30s, +5m, +2h', parseAt)
    .option(
      '--concurrency-key <key>',
      'at most --concurrency-limit tasks with this key run at once',
    )
    .option(
      '--concurrency-limit <n>',
      `how many tasks of the key may run at once (${limit.min}…${limit.max}, default 1)`,
      parseIntegerIn('--concurrency-limit', limit.min, limit.max),
    );
}

/** The body fields the placement flags set; none when no flag was given. */
export function placementFields(flags: PlacementFlags): Placement {
  const fields: Placement = {};
  const labels = flags.requireLabels ?? [];
  if (flags.runner || labels.length > 0)
    fields.target = {
      ...(flags.runner ? { runner: flags.runner } : {}),
      ...(labels.length > 0 ? { labels } : {}),
    };
  if (flags.priority !== undefined) fields.priority = flags.priority;
  if (flags.at !== undefined) fields.runAt = flags.at;
  if (flags.concurrencyLimit !== undefined && flags.concurrencyKey === undefined)
    throw new AppError('bad_request', '--concurrency-limit needs --concurrency-key');
  if (flags.concurrencyKey !== undefined)
    fields.concurrency = { key: flags.concurrencyKey, limit: flags.concurrencyLimit };
  return fields;
}

function parseIntegerIn(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        `${name} must be an integer from ${min} to ${max}, got "${value}"`,
      );
    return n;
  };
}

/** `+5m` (from now, any duration `--timeout` takes) or an absolute time `Date.parse` reads. */
function parseAt(value: string): number {
  if (value.startsWith('+')) return Date.now() + parseDurationOption('--at')(value.slice(1));
  const at = Date.parse(value);
  if (!Number.isFinite(at))
    throw new InvalidArgumentError(
      `--at must be a time like 2030-01-31T09:00:00Z or +5m, got "${value}"`,
    );
  return at;
}
