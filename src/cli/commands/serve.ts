// `outpost serve`: the Task API server alone (SQLite under the data directory, or PostgreSQL).
import type { Command } from 'commander';
import type { ServerConfig } from '../../server/config.ts';
import { parseIntOption } from '../options.ts';

interface ServeFlags {
  host?: string;
  port?: number;
  db?: string;
  database?: string;
  dataDir?: string;
  config?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the Task API server (clients submit, runners long-poll)')
    .option('--host <host>', 'interface to listen on (env OUTPOST_HOST; default 127.0.0.1)')
    .option(
      '--port <port>',
      'port (env OUTPOST_PORT or WORKER_PORT; default 3456)',
      parseIntOption('--port'),
    )
    .option(
      '--db <path>',
      'SQLite file (env OUTPOST_DB or WORKER_TASK_DB; default <data-dir>/outpost.db)',
    )
    .option(
      '--database <url>',
      'postgres://user@host:5432/db to use PostgreSQL, or sqlite:<path> (env OUTPOST_DATABASE_URL)',
    )
    .option('--data-dir <dir>', 'data directory (env OUTPOST_DATA_DIR; default ~/.outpost)')
    .option('--config <file>', 'JSON config file (env OUTPOST_CONFIG)')
    .option('--tls-cert <file>', 'PEM certificate chain: serve HTTPS (env OUTPOST_TLS_CERT)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert (env OUTPOST_TLS_KEY)')
    .action(async (flags: ServeFlags) => {
      const { loadServerConfig } = await import('../../server/config.ts');
      const { startServer, closeOnSignal } = await import('../start-server.ts');
      const config = loadServerConfig(process.env, {
        flags: serveFlags(flags),
        file: flags.config,
      });
      const server = await startServer(config);
      process.stderr.write(`outpost server listening on ${server.url}\n`);
      closeOnSignal(
        () => server.close(),
        (msg) => process.stderr.write(`outpost: ${msg}\n`),
      );
    });
}

function serveFlags(flags: ServeFlags): Partial<ServerConfig> {
  const out: Partial<ServerConfig> = {};
  if (flags.host !== undefined) out.host = flags.host;
  if (flags.port !== undefined) out.port = flags.port;
  if (flags.db !== undefined) out.dbPath = flags.db;
  // Parsed (and refused when malformed) with the rest of the config, naming --database.
  if (flags.database !== undefined) (out as Record<string, unknown>).database = flags.database;
  if (flags.dataDir !== undefined) out.dataDir = flags.dataDir;
  if (flags.tlsCert !== undefined) out.tlsCert = flags.tlsCert;
  if (flags.tlsKey !== undefined) out.tlsKey = flags.tlsKey;
  return out;
}
