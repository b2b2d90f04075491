// `outpost sessions [list|show|reset|resume|recent]`: the conversations the server keeps per
// session key and agent, and the sessions a runner found in its own CLI storage.
import type { Command } from 'commander';
import type { AgentName } from '../../protocol/agents.ts';
import { parseIntOption } from '../options.ts';
import { printJson } from '../output.ts';
import { resumeByIdOrPrefix } from '../resume-session.ts';
import { printSessionDetails, printSessionList } from '../session-tables.ts';
import { registerRecent } from './sessions-recent.ts';
import { agentOption, clientFor, subcommand, type SessionFlags } from './session-options.ts';

const HELP = `
A session key (a chat channel, "cli:<user>" for \`outpost agent\`) holds one conversation per
agent: the provider's session id, which the key's next turn resumes.

Examples:
  outpost sessions                        # every session, most recently used first
  outpost sessions show cli:$USER
  outpost sessions reset discord:1234 --agent claude
  outpost sessions resume cli:$USER 3f2a9c --agent claude
  outpost sessions recent --runner home --agent codex`;

export function registerSessions(program: Command): void {
  const sessions = program
    .command('sessions')
    .description('List, show, reset and resume agent conversations (list is the default)')
    .addHelpText('after', HELP);

  subcommand(sessions, 'list', 'Sessions, most recently used first')
    .addOption(agentOption('only this agent'))
    .option('--limit <n>', 'how many (default 50)', parseIntOption('--limit', 1))
    .action(async (flags: SessionFlags) => {
      const client = await clientFor(flags);
      const page = await client.listSessions({ agent: flags.agent, limit: flags.limit });
      if (flags.json) printJson(page);
      else printSessionList(page.sessions);
    });

  subcommand(sessions, 'show', "A key's session for each agent")
    .argument('<key>', 'session key')
    .addOption(agentOption('only this agent'))
    .action(async (key: string, flags: SessionFlags) => {
      const client = await clientFor(flags);
      const page = await client.getSession(key, { agent: flags.agent });
      if (flags.json) printJson(page);
      else printSessionDetails(page.sessions);
    });

  subcommand(sessions, 'reset', "Forget a key's conversation: its next turn starts fresh")
    .argument('<key>', 'session key')
    .addOption(agentOption('only this agent (default: every agent)'))
    .action(async (key: string, flags: SessionFlags) => {
      const client = await clientFor(flags);
      const page = await client.resetSession(key, { agent: flags.agent });
      if (flags.json) return printJson(page);
      const agents = page.sessions.map((s) => s.agent).join(', ');
      process.stdout.write(`Reset ${key} (${agents}): the next turn starts a new conversation.\n`);
    });

  subcommand(sessions, 'resume', 'Make a key continue a provider session (full id or prefix)')
    .argument('<key>', 'session key')
    .argument('<id>', 'provider session id, or a prefix matching just one known id')
    .addOption(agentOption('whose session it is', 'claude'))
    .action(async (key: string, id: string, flags: SessionFlags & { agent: AgentName }) => {
      const client = await clientFor(flags);
      const session = await resumeByIdOrPrefix(client, key, flags.agent, id);
      if (flags.json) return printJson(session);
      const target = session.providerSessionId ?? id;
      process.stdout.write(`${key} (${session.agent}) now continues session ${target}.\n`);
    });

  registerRecent(sessions);
}
