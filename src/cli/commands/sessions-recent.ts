// `outpost sessions recent`: the sessions runners found in their own CLI storage (only a runner
// can see its disk, so each reports them). Without --runner, every online runner's report.
import type { Command } from 'commander';
import type { AgentName, RecentSessionList } from '../../protocol/agents.ts';
import { AppError } from '../../protocol/errors.ts';
import type { OutpostClient } from '../../sdk/index.ts';
import { parseIntOption } from '../options.ts';
import { printJson } from '../output.ts';
import { printRecentSessions } from '../session-tables.ts';
import { agentOption, clientFor, subcommand, type SessionFlags } from './session-options.ts';

interface RecentFlags extends SessionFlags {
  agent: AgentName;
  runner?: string;
}

export function registerRecent(sessions: Command): void {
  subcommand(sessions, 'recent', "Recent sessions in a runner's own CLI storage, with topics")
    .option('--runner <name>', 'this runner (default: every online runner; needs an admin token)')
    .addOption(agentOption('whose sessions', 'claude'))
    .option('--limit <n>', 'how many per runner (default 20)', parseIntOption('--limit', 1))
    .addHelpText(
      'after',
      "\n--json prints the runner's report, or with no --runner a list of reports.\n\nExamples:\n  outpost sessions recent --runner home\n  outpost sessions recent --agent codex --json",
    )
    .action(async (flags: RecentFlags) => {
      const client = await clientFor(flags);
      const opts = { agent: flags.agent, limit: flags.limit };
      if (flags.runner) {
        const list = await client.recentAgentSessions(flags.runner, opts);
        return flags.json ? printJson(list) : printRecentSessions(list);
      }
      const lists = await fromOnlineRunners(client, opts);
      if (flags.json) return printJson(lists);
      if (lists.length === 0) {
        process.stdout.write(
          'No runner is online. Pass --runner NAME for what it last reported.\n',
        );
      }
      lists.forEach((list, i) => {
        if (i > 0) process.stdout.write('\n');
        printRecentSessions(list);
      });
    });
}

async function fromOnlineRunners(
  client: OutpostClient,
  opts: { agent: AgentName; limit?: number },
): Promise<RecentSessionList[]> {
  const names = await onlineRunners(client);
  return Promise.all(names.map((name) => client.recentAgentSessions(name, opts)));
}

/** Listing runners is for admins: a client token gets told what to pass instead. */
async function onlineRunners(client: OutpostClient): Promise<string[]> {
  try {
    const { runners } = await client.listRunners();
    return runners.filter((r) => r.online).map((r) => r.name);
  } catch (err) {
    if (!(err instanceof AppError) || err.code !== 'forbidden') throw err;
    throw new AppError(
      'bad_request',
      'Pass --runner NAME: finding the online runners needs an admin token.',
    );
  }
}
