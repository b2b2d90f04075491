// The claim loop: long-poll for as many tasks as there are free slots, hand each to `start`, and
// when full wait for a slot to free (no timer polling). Failures back off with jitter.
import type { Claim } from '../protocol/runner.ts';
import type { Kind } from '../protocol/tasks.ts';
import { delay } from '../sdk/delay.ts';
import type { OutpostClient } from '../sdk/client.ts';
import type { RunnerConfig } from './config.ts';
import { isAuthError, retryDelayMs } from './retry-delay.ts';
import type { RunningAttempts } from './running-attempts.ts';
import { errorFields, type RunnerLog } from './runner-log.ts';

export interface ClaimLoopDeps {
  client: OutpostClient;
  config: Pick<RunnerConfig, 'name' | 'capacity' | 'longPollMs' | 'retryBaseMs' | 'retryMaxMs'>;
  instanceId: string;
  kinds: readonly Kind[];
  attempts: RunningAttempts;
  log: RunnerLog;
  /** Aborted by drain or stop: ends the open long poll and the loop. */
  signal: AbortSignal;
  /** Starts executing a claimed task; must not block. */
  start(claim: Claim): void;
}

/** Runs until `deps.signal` aborts. Never throws. */
export async function runClaimLoop(deps: ClaimLoopDeps): Promise<void> {
  let failures = 0;
  while (!deps.signal.aborted) {
    await deps.attempts.whenBelow(deps.config.capacity, deps.signal);
    if (deps.signal.aborted) return;
    failures = await claimOnce(deps, failures);
  }
}

/** One long poll; returns the new count of consecutive failures. */
async function claimOnce(deps: ClaimLoopDeps, failures: number): Promise<number> {
  const { client, config, signal } = deps;
  const max = config.capacity - deps.attempts.size;
  const body = {
    runner: config.name,
    instanceId: deps.instanceId,
    max,
    waitMs: config.longPollMs,
    kinds: [...deps.kinds],
  };
  try {
    const reply = await client.claimTasks(body, { signal });
    // Tasks in a reply are leased to us even if a drain began meanwhile: run them, never strand them.
    for (const claim of reply.tasks) deps.start(claim);
    return 0;
  } catch (err) {
    if (signal.aborted) return failures;
    const waitMs = retryDelayMs(err, failures + 1, config);
    logClaimFailure(deps.log, err, waitMs);
    await delay(waitMs, signal);
    return failures + 1;
  }
}

function logClaimFailure(log: RunnerLog, err: unknown, retryInMs: number): void {
  if (isAuthError(err)) {
    log(
      'error',
      "the server refused this runner's token; check OUTPOST_TOKEN and the token's role and runner name",
      {
        ...errorFields(err),
        retryInMs,
      },
    );
    return;
  }
  log('warn', 'claim failed; backing off', { ...errorFields(err), retryInMs });
}
