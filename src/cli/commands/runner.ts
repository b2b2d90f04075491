// `outpost runner`: claims tasks from a server and runs them on this machine.
import type { Command } from 'commander';
import type { RunnerConfig } from '../../runner/config.ts';
import { parseIntOption, parseListOption } from '../options.ts';
import { registerRunnerLocal } from './runner-local.ts';
import { registerRunnerEnroll, runnerConfigFile } from './runner-enroll.ts';
import { registerRunnerApprovals } from './runner-approvals.ts';

interface RunnerFlags {
  url?: string;
  token?: string;
  name?: string;
  labels?: string[];
  capacity?: number;
  roots?: string[];
  dataDir?: string;
  config?: string;
}

export function registerRunner(program: Command): void {
  const runner = program.command('runner');
  registerRunnerLocal(runner);
  registerRunnerEnroll(runner);
  registerRunnerApprovals(runner);
  runner
    .description('Run tasks from a server on this machine (outbound long-poll; no inbound port)')
    .option(
      '--url <url,url>',
      'server URL, or several replicas comma-separated (the next is used when one is unreachable; env OUTPOST_URL or WORKER_URL; default http://127.0.0.1:3456)',
    )
    .option('--token <token>', 'runner token (env OUTPOST_TOKEN or WORKER_TOKEN)')
    .option(
      '--name <name>',
      'runner name tasks can target (env OUTPOST_RUNNER_NAME; default the host name)',
    )
    .option('--labels <a,b>', 'labels (env OUTPOST_LABELS)', parseListOption)
    .option(
      '--capacity <n>',
      'tasks at once (env OUTPOST_CAPACITY or MAX_CONCURRENT; default 5)',
      parseIntOption('--capacity', 1),
    )
    .option(
      '--roots <dir:dir>',
      'directories tasks may use (env OUTPOST_ROOTS; default your home)',
      (v) => v.split(':'),
    )
    .option(
      '--data-dir <dir>',
      'runner data directory, never reachable by tasks (env OUTPOST_DATA_DIR)',
    )
    .option(
      '--config <file>',
      'JSON config file (env OUTPOST_CONFIG; default <data-dir>/runner.json when it exists)',
    )
    .action(async (flags: RunnerFlags) => {
      const { loadRunnerConfig } = await import('../../runner/config.ts');
      const config = loadRunnerConfig(process.env, {
        flags: runnerFlags(flags),
        file: runnerConfigFile(flags.config, flags.dataDir),
      });
      const { startLocalRunner } = await import('../start-runner.ts');
      const runner = await startLocalRunner(config);
      process.stderr.write(
        `outpost runner '${config.name}' polling ${config.serverUrls.join(', ')}\n`,
      );
      drainOnSignal(runner);
    });
}

/** First SIGTERM/SIGINT drains (finish running tasks within the grace); a second stops at once. */
export function drainOnSignal(runner: { drain(): Promise<void>; stop(): Promise<void> }): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    process.stderr.write(`outpost: ${signal}: ${signals === 1 ? 'draining' : 'stopping now'}\n`);
    const done = signals === 1 ? runner.drain() : runner.stop();
    done.then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

function runnerFlags(flags: RunnerFlags): Partial<RunnerConfig> {
  const map: Partial<RunnerConfig> = {};
  if (flags.url !== undefined) map.serverUrl = flags.url;
  if (flags.token !== undefined) map.token = flags.token;
  if (flags.name !== undefined) map.name = flags.name;
  if (flags.labels !== undefined) map.labels = flags.labels;
  if (flags.capacity !== undefined) map.capacity = flags.capacity;
  if (flags.roots !== undefined) map.roots = flags.roots;
  if (flags.dataDir !== undefined) map.dataDir = flags.dataDir;
  return map;
}
