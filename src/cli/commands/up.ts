// `outpost up`: the embedded default. Server and a local runner in one process on SQLite under
// the data directory; generates a token on first start and prints how to use it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { newSecret } from '../../lib/ids.ts';
import { parseIntOption } from '../options.ts';

interface UpFlags {
  port?: number;
  dataDir?: string;
  roots?: string[];
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('Start a server and a local runner together (SQLite, loopback only)')
    .option('--port <port>', 'port (env OUTPOST_PORT; default 3456)', parseIntOption('--port'))
    .option('--data-dir <dir>', 'data directory (env OUTPOST_DATA_DIR; default ~/.outpost)')
    .option(
      '--roots <dir:dir>',
      'directories tasks may use (env OUTPOST_ROOTS; default your home)',
      (v) => v.split(':'),
    )
    .action(async (flags: UpFlags) => {
      const dataDir = flags.dataDir ?? process.env.OUTPOST_DATA_DIR ?? join(homedir(), '.outpost');
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const token = process.env.OUTPOST_TOKEN ?? savedToken(dataDir) ?? `op_${newSecret()}`;
      const { loadServerConfig } = await import('../../server/config.ts');
      const { startServer, closeOnSignal } = await import('../start-server.ts');
      const serverFlags = {
        dataDir,
        token,
        host: '127.0.0.1',
        ...(process.env.OUTPOST_LOG_LEVEL ? {} : { logLevel: 'warn' as const }),
        ...(flags.port !== undefined ? { port: flags.port } : {}),
      };
      const server = await startServer(loadServerConfig(process.env, { flags: serverFlags }));
      writeCredentials(dataDir, server.url, token);
      const { loadRunnerConfig } = await import('../../runner/config.ts');
      const { startLocalRunner } = await import('../start-runner.ts');
      const runnerFlags = {
        serverUrl: server.url,
        token,
        dataDir,
        ...(flags.roots ? { roots: flags.roots } : {}),
      };
      const config = loadRunnerConfig(process.env, { flags: runnerFlags });
      // `up` talks to a person at a terminal: only problems, not every claim, unless told otherwise.
      const runner = await startLocalRunner(
        config,
        process.env.OUTPOST_LOG_LEVEL ? undefined : 'warn',
      );
      printWelcome(server.url, token, dataDir, config.name);
      closeOnSignal(
        async () => {
          await runner.drain();
          await server.close();
        },
        (msg) => process.stderr.write(`outpost: ${msg}\n`),
      );
    });
}

function savedToken(dataDir: string): string | undefined {
  try {
    const saved = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as {
      token?: unknown;
    };
    return typeof saved.token === 'string' ? saved.token : undefined;
  } catch {
    return undefined;
  }
}

/** Client commands on this machine read these, so `outpost run` works with no setup. */
function writeCredentials(dataDir: string, url: string, token: string): void {
  writeFileSync(join(dataDir, 'credentials.json'), `${JSON.stringify({ url, token }, null, 2)}\n`, {
    mode: 0o600,
  });
}

function printWelcome(url: string, token: string, dataDir: string, runner: string): void {
  process.stdout.write(
    [
      'Outpost is up: server and a local runner.',
      `  URL:     ${url}`,
      `  Token:   ${token}`,
      `  Runner:  ${runner}`,
      `  Data:    ${dataDir} (token saved in credentials.json)`,
      '',
      'Try it from another terminal:',
      '  npx outpost run -- echo hi',
      `  curl -s -H "Authorization: Bearer ${token}" -d '{"command":"uname -a"}' ${url}/tasks`,
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}
