// Builds a runner from its config: the SDK client to the server, then the claim loop.
import { OutpostClient } from '../sdk/client.ts';
import { createRunner, type Runner } from '../runner/create-runner.ts';
import type { RunnerConfig } from '../runner/config.ts';
import { atLeast, type LogLevel } from '../runner/runner-log.ts';
import { nodeTransport } from '../runner/node-transport.ts';
import { CLI_VERSION } from './version.ts';

export async function startLocalRunner(
  config: Readonly<RunnerConfig>,
  logLevel: LogLevel = 'info',
): Promise<Runner> {
  const client = new OutpostClient({
    baseUrl: config.serverUrl,
    token: config.token,
    fetch: nodeTransport,
  });
  const runner = createRunner({ client, config, log: atLeast(logLevel), version: CLI_VERSION });
  await runner.start();
  return runner;
}
