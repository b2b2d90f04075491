// `outpost logs <id> [-f]`: a task's output so far, or followed until the task ends.
import { InvalidArgumentError, type Command } from 'commander';
import { loadConnection, withConnectionOptions, type ConnectionFlags } from '../connection.ts';
import { writeChunk } from '../live-output.ts';

interface LogsFlags extends ConnectionFlags {
  follow?: boolean;
  after?: number;
  json?: boolean;
}

export function registerLogs(program: Command): void {
  withConnectionOptions(
    program
      .command('logs')
      .description("Show a task's output; with -f, follow it live until the task ends")
      .argument('<id>', 'task id'),
  )
    .option('-f, --follow', 'keep printing new output until the task ends')
    .option('--after <seq>', 'start after this output seq (from an earlier --json line)', (v) =>
      parseSeq(v),
    )
    .option('--json', 'print each chunk as a JSON line {seq, attempt, stream, data, encoding?, at}')
    .addHelpText(
      'after',
      '\nExamples:\n  outpost logs 0193…e1 -f\n  outpost logs 0193…e1 --json > out.jsonl',
    )
    .action(async (id: string, flags: LogsFlags) => {
      const { OutpostClient, followLogs } = await import('../../sdk/index.ts');
      const client = new OutpostClient(loadConnection(flags));
      const chunks = followLogs(client, id, { after: flags.after ?? 0, once: !flags.follow });
      for await (const chunk of chunks) writeChunk(chunk, flags.json === true);
    });
}

function parseSeq(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`--after must be a seq number, got "${value}"`);
  return n;
}
