// Opens the store (SQLite or PostgreSQL, as config.database says) and starts the HTTP server for
// `outpost serve` and `outpost up`.
import { AppError } from '../protocol/errors.ts';
import { createApp, type OutpostApp } from '../server/create-app.ts';
import { isLoopbackHost, type ServerConfig } from '../server/config.ts';
import { openStore } from './open-store.ts';

export interface RunningServer {
  app: OutpostApp;
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Readonly<ServerConfig>): Promise<RunningServer> {
  const store = await openStore(config.database);
  try {
    await refuseOpenWithoutToken(config, store);
    const app = await createApp({ store, options: config });
    await app.listen({ host: config.host, port: config.port });
    const close = async (): Promise<void> => {
      await app.close();
      await store.close();
    };
    return { app, url: urlOf(app, config.host, config.tlsCert ? 'https' : 'http'), close };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** A server reachable from other machines must demand a token; loopback-only may start open. */
async function refuseOpenWithoutToken(
  config: Readonly<ServerConfig>,
  store: { listTokens(): Promise<unknown[]> },
) {
  if (isLoopbackHost(config.host) || config.token) return;
  if ((await store.listTokens()).length > 0) return;
  throw new AppError(
    'bad_request',
    `Refusing to listen on ${config.host} with no token: set OUTPOST_TOKEN (16+ characters) or create one with \`outpost token create\`.`,
  );
}

function urlOf(app: OutpostApp, host: string, scheme: 'http' | 'https'): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const shown =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${shown}:${port}`;
}

/** Closes `resource` on the first SIGTERM/SIGINT; a second signal exits at once. */
export function closeOnSignal(close: () => Promise<void>, log: (msg: string) => void): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(1);
    closing = true;
    log(`${signal}: shutting down`);
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`shutdown failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
