// Builds a runner from its config: the SDK client to the server, then the claim loop.
import { OutpostClient } from '../sdk/client.ts';
import { createRunner, type Runner } from '../runner/create-runner.ts';
import type { RunnerConfig } from '../runner/config.ts';
import { atLeast, type LogThreshold } from '../runner/runner-log.ts';
import { nodeTransport } from '../runner/node-transport.ts';
import { failoverTransport } from '../runner/failover-transport.ts';
import { CLI_VERSION } from './version.ts';

export async function startLocalRunner(
  config: Readonly<RunnerConfig>,
  logLevel: LogThreshold = config.logLevel,
): Promise<Runner> {
  const log = atLeast(logLevel);
  // With several servers the client is built on the first; the transport sends to the current one.
  const transport = failoverTransport(config.serverUrls, nodeTransport, (from, to, err) =>
    log('warn', 'server unreachable; moving to the next', {
      from,
      to,
      error: err instanceof Error ? err.message : String(err),
    }),
  );
  const client = new OutpostClient({
    baseUrl: config.serverUrl,
    token: config.token,
    fetch: transport,
  });
  const runner = createRunner({ client, config, log, version: CLI_VERSION });
  await runner.start();
  return runner;
}
