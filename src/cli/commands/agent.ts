// `outpost agent <claude|codex|gemini> <prompt...>`: one turn of a conversation with an AI coding
// agent on a runner. Turns under one session key continue one conversation; by default the key
// is `cli:<your user name>`, so consecutive calls from a terminal pick up where the last left off.
import { userInfo } from 'node:os';
import { Argument, type Command } from 'commander';
import { AGENTS, type AgentName, type AgentSpec } from '../../protocol/agents.ts';
import { AppError } from '../../protocol/errors.ts';
import type { CreateTaskBody } from '../../protocol/tasks.ts';
import type { ConnectionFlags } from '../connection.ts';
import { clientOptionsOf, withTaskClientOptions, type SigningFlags } from '../signing-key.ts';
import { parseDurationOption } from '../options.ts';
import { followAgentTurn } from '../agent-turn.ts';
import { resumeByIdOrPrefix } from '../resume-session.ts';

interface AgentFlags extends ConnectionFlags, SigningFlags {
  session?: string;
  new?: boolean;
  resume?: string;
  model?: string;
  cwd?: string;
  runner?: string;
  timeout?: number;
  json?: boolean;
}

/** Agents read, edit and test: the 30 s default of other tasks would cut most turns short. */
const DEFAULT_TIMEOUT_MS = 10 * 60_000;

const HELP = `
Sessions:
  Turns with the same --session key continue one conversation (per agent); the server keeps it.
  Without --session the key is cli:<your user name>, so this continues your last conversation:
    outpost agent claude "what did we change last time?"
  Turns of one key run one at a time, in order: a second one waits for the first to finish.

Output:
  Progress (assistant text, tool calls) goes to stderr while the agent works; the final answer
  alone goes to stdout; a footer on stderr names the session, model, turns and cost.
  Ctrl-C cancels the turn; a second Ctrl-C detaches and leaves it running.

Examples:
  outpost agent claude "why does test/e2e/cli.test.ts flake?"
  outpost agent codex --session review --cwd ~/src/app "review the last commit"
  outpost agent claude --new "start over: summarise README.md"
  outpost agent claude --resume 3f2a9c "continue from that session"
  outpost agent gemini --json -- "explain --dry-run" > turn.json`;

export function registerAgent(program: Command): void {
  withTaskClientOptions(
    program
      .command('agent')
      .description('Ask Claude Code, Codex or Gemini CLI on a runner; continues your conversation')
      .addArgument(new Argument('<agent>', 'which agent').choices(AGENTS))
      .argument('<prompt...>', 'what to ask (words are joined with spaces)')
      .option('--session <key>', 'conversation to continue (default: cli:<your user name>)')
      .option('--new', 'start a fresh conversation under the key (later turns continue it)')
      .option(
        '--resume <id>',
        'first point the key at this provider session id, or a unique prefix',
      )
      .option('--model <model>', "use this model first (the runner's list still follows)")
      .option('--cwd <dir>', 'working directory on the runner (inside its roots)')
      .option('--runner <name>', 'run on this runner')
      .option(
        '--timeout <duration>',
        'stop the turn after this long (e.g. 90s, 30m, or ms; default 10m)',
        parseDurationOption('--timeout'),
      )
      .option('--json', 'print the finished task as JSON instead of the answer'),
  )
    .addHelpText('after', HELP)
    .action(async (agent: AgentName, words: string[], flags: AgentFlags) => {
      if (flags.new && flags.resume)
        throw new AppError('bad_request', 'Give --new or --resume, not both');
      const { OutpostClient } = await import('../../sdk/index.ts');
      const client = new OutpostClient(clientOptionsOf(flags));
      const key = flags.session ?? defaultSessionKey();
      if (flags.resume) await resumeByIdOrPrefix(client, key, agent, flags.resume);
      const task = await client.createTask(buildTurn(agent, words.join(' '), key, flags));
      const view = { agent, key, json: flags.json === true };
      process.exitCode = await followAgentTurn(client, task, view);
    });
}

function buildTurn(agent: AgentName, prompt: string, key: string, flags: AgentFlags) {
  const spec: AgentSpec = {
    agent,
    prompt,
    ...(flags.model ? { model: flags.model } : {}),
    ...(flags.cwd ? { cwd: flags.cwd } : {}),
    ...(flags.new ? { fresh: true } : {}),
  };
  const timeoutMs = flags.timeout ?? DEFAULT_TIMEOUT_MS;
  const body: CreateTaskBody = { kind: 'agent', spec, sessionKey: key, timeoutMs };
  if (flags.runner) body.target = { runner: flags.runner };
  return body;
}

/** `cli:<user name>`: one conversation per person at a terminal, the same from every shell. */
export function defaultSessionKey(env: NodeJS.ProcessEnv = process.env): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (some containers): the login name from the environment will do.
    name = env.USER ?? env.USERNAME ?? env.LOGNAME;
  }
  return `cli:${name || 'default'}`;
}
