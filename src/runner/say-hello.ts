// Hello, retried with backoff until the server answers or the runner is told to stop.
import type { HelloBody, HelloReply } from '../protocol/runner.ts';
import { delay } from '../sdk/delay.ts';
import type { OutpostClient } from '../sdk/client.ts';
import type { RunnerConfig } from './config.ts';
import { isAuthError, retryDelayMs } from './retry-delay.ts';
import { errorFields, type RunnerLog } from './runner-log.ts';

/** Undefined when `signal` aborted first (drain or stop). */
export async function sayHello(
  deps: {
    client: OutpostClient;
    config: Pick<RunnerConfig, 'retryBaseMs' | 'retryMaxMs'>;
    log: RunnerLog;
  },
  body: HelloBody,
  signal: AbortSignal,
): Promise<HelloReply | undefined> {
  for (let failures = 1; !signal.aborted; failures++) {
    try {
      return await deps.client.hello(body, { signal });
    } catch (err) {
      if (signal.aborted) break;
      const retryInMs = retryDelayMs(err, failures, deps.config);
      if (isAuthError(err)) {
        deps.log('error', "the server refused this runner's token; check OUTPOST_TOKEN", {
          ...errorFields(err),
          retryInMs,
        });
      } else deps.log('warn', 'hello failed; retrying', { ...errorFields(err), retryInMs });
      await delay(retryInMs, signal);
    }
  }
  return undefined;
}
