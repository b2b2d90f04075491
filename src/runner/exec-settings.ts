// What every executor is given from the runner config: roots, denied paths, shell, env allowlist,
// output caps, stop timing, the process tag, and the agent CLIs' settings.
import { deniedPathsOf, type RunnerConfig } from './config.ts';
import type { ExecSettings } from './executors/types.ts';
import { runnerTagPrefix } from './process-sweep.ts';

export function execSettingsOf(config: Readonly<RunnerConfig>): ExecSettings {
  return {
    roots: config.roots,
    deniedPaths: deniedPathsOf(config),
    shell: config.shell,
    envAllowlist: config.envAllowlist,
    maxOutputBytes: config.maxOutputBytes,
    maxReadBytes: config.maxReadBytes,
    killGraceMs: config.killGraceMs,
    tagPrefix: runnerTagPrefix(config.name, config.dataDir),
    agents: config.agents,
  };
}
