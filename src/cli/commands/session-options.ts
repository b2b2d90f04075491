// What the `outpost sessions` subcommands share: a client from the connection flags, the
// checked --agent option, and the subcommand shape (--url, --token, --json).
import { Option, type Command } from 'commander';
import { AGENTS, type AgentName } from '../../protocol/agents.ts';
import { loadConnection, withConnectionOptions, type ConnectionFlags } from '../connection.ts';

export interface SessionFlags extends ConnectionFlags {
  agent?: AgentName;
  limit?: number;
  json?: boolean;
}

export async function clientFor(flags: ConnectionFlags) {
  const { OutpostClient } = await import('../../sdk/index.ts');
  return new OutpostClient(loadConnection(flags));
}

/** `--agent`, checked against the known agents; `fallback` where the route needs one. */
export function agentOption(what: string, fallback?: AgentName): Option {
  const option = new Option('--agent <agent>', what).choices(AGENTS);
  return fallback ? option.default(fallback) : option;
}

/** A client subcommand of `sessions` with --url, --token and --json. */
export function subcommand(parent: Command, name: string, description: string): Command {
  const cmd = parent.command(name, { isDefault: name === 'list' }).description(description);
  return withConnectionOptions(cmd).option('--json', 'print JSON');
}
