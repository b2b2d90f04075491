// `outpost runners`: the runner registry as a table (or JSON): who is online, what each can run,
// and how busy it is.
import type { Command } from 'commander';
import type { RunnerInfo } from '../../protocol/auth.ts';
import { loadConnection, withConnectionOptions, type ConnectionFlags } from '../connection.ts';
import { formatTime, printJson, printTable } from '../output.ts';

interface RunnersFlags extends ConnectionFlags {
  json?: boolean;
}

export function registerRunners(program: Command): void {
  withConnectionOptions(
    program.command('runners').description('List runners: online or not, labels, kinds, load'),
  )
    .option('--json', 'print JSON')
    .action(async (flags: RunnersFlags) => {
      const { OutpostClient } = await import('../../sdk/client.ts');
      const { runners } = await new OutpostClient(loadConnection(flags)).listRunners();
      if (flags.json) return printJson({ runners });
      if (runners.length === 0) {
        process.stdout.write('No runner has connected yet.\n');
        return;
      }
      printTable([
        ['NAME', 'STATUS', 'RUNNING', 'LABELS', 'KINDS', 'VERSION', 'POLICY', 'LAST SEEN'],
        ...runners.map(runnerRow),
      ]);
    });
}

function runnerRow(r: RunnerInfo): string[] {
  return [
    r.name,
    r.online ? 'online' : 'offline',
    `${r.running}/${r.capacity}`,
    r.labels.join(',') || '-',
    r.kinds.join(','),
    r.version,
    r.policyDigest?.slice(0, 19) ?? '-',
    formatTime(r.lastSeenAt),
  ];
}
