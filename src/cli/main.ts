// The `outpost` program: commander wiring only; each command lives in its own module and loads
// the server or runner lazily, so `outpost run` starts fast.
import { Command, CommanderError } from 'commander';
import { AppError } from '../protocol/errors.ts';
import { registerUp } from './commands/up.ts';
import { registerServe } from './commands/serve.ts';
import { registerRunner } from './commands/runner.ts';
import { registerRun } from './commands/run.ts';
import { registerLogs } from './commands/logs.ts';
import { registerSubmit } from './commands/submit.ts';
import { registerTaskCommands } from './commands/tasks.ts';
import { registerSchedule } from './commands/schedule.ts';
import { registerToken } from './commands/token.ts';
import { registerAgent } from './commands/agent.ts';
import { registerSessions } from './commands/sessions.ts';
import { registerKeys } from './commands/keys.ts';
import { registerRunners } from './commands/runners.ts';
import { registerApprove } from './commands/approve.ts';
import { CLI_VERSION } from './version.ts';

export function createProgram(): Command {
  const program = new Command('outpost')
    .description('Run commands, file edits and AI agents on your own machines, from anywhere.')
    .version(CLI_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerUp(program);
  registerServe(program);
  registerRunner(program);
  registerRun(program);
  registerLogs(program);
  registerSubmit(program);
  registerTaskCommands(program);
  registerSchedule(program);
  registerAgent(program);
  registerSessions(program);
  registerToken(program);
  registerKeys(program);
  registerRunners(program);
  registerApprove(program);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    const program = createProgram();
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof AppError) {
    process.stderr.write(`outpost: ${err.message}\n`);
    return err.code === 'bad_request' ? 2 : 1;
  }
  process.stderr.write(
    `outpost: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  return 1;
}
