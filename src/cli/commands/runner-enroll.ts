// `outpost runner enroll <code>`: exchanges a one-time enrolment code for a runner token and
// saves it, with the server URL and runner name, in the runner's config file (mode 0600).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../../protocol/errors.ts';
import { DEFAULT_URL } from '../connection.ts';

interface EnrollFlags {
  url?: string;
  config?: string;
}

/** Where the token goes unless --config says otherwise: beside the runner's other state. */
export function defaultRunnerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.OUTPOST_DATA_DIR ?? join(homedir(), '.outpost'), 'runner.json');
}

/**
 * The config file a runner command reads: --config, else OUTPOST_CONFIG, else the runner.json that
 * `outpost runner enroll` wrote (in --data-dir, OUTPOST_DATA_DIR or ~/.outpost) when it exists.
 */
export function runnerConfigFile(
  flag: string | undefined,
  dataDir: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (flag) return flag;
  if (env.OUTPOST_CONFIG) return env.OUTPOST_CONFIG;
  const enrolled =
    dataDir === undefined ? defaultRunnerConfigPath(env) : join(resolve(dataDir), 'runner.json');
  return existsSync(enrolled) ? enrolled : undefined;
}

export function registerRunnerEnroll(runner: Command): void {
  runner
    .command('enroll')
    .description('Exchange a one-time enrolment code for this runner’s token and save it')
    .argument('<code>', 'the code from `outpost token enroll-code <runner>`')
    .option('--url <url>', `server URL (env OUTPOST_URL; default ${DEFAULT_URL})`)
    .option('--config <file>', 'runner config file to write (default <data-dir>/runner.json)')
    .action(async (code: string, _flags: EnrollFlags, cmd: Command) => {
      // `outpost runner` has --url and --config too and takes them wherever they appear.
      const flags = cmd.optsWithGlobals<EnrollFlags>();
      const baseUrl = flags.url ?? process.env.OUTPOST_URL ?? DEFAULT_URL;
      const { OutpostClient } = await import('../../sdk/client.ts');
      // The code is the credential here: no token is sent.
      const { token, secret } = await new OutpostClient({ baseUrl, token: '' }).enroll(code);
      const path = resolve(flags.config ?? defaultRunnerConfigPath());
      saveRunnerConfig(path, { serverUrl: baseUrl, token: secret, name: token.runner });
      process.stderr.write(
        `Enrolled as runner '${token.runner}'; token saved in ${path}.\n` +
          (path === resolve(defaultRunnerConfigPath())
            ? 'Start the runner with: outpost runner\n'
            : `Start the runner with: outpost runner --config ${path}\n`),
      );
    });
}

/** Keeps whatever else the file holds (roots, policy, agents); only the connection is replaced. */
function saveRunnerConfig(path: string, connection: Record<string, string | undefined>): void {
  let existing: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      existing = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch {
      throw new AppError(
        'bad_request',
        `--config: ${path} is not valid JSON; fix or move it first`,
      );
    }
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // 0600: the file holds a secret, and the runner keeps it out of reach of tasks.
  writeFileSync(path, `${JSON.stringify({ ...existing, ...connection }, null, 2)}\n`, {
    mode: 0o600,
  });
  chmodSync(path, 0o600); // the mode above applies only when the file is new
}
