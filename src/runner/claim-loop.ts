// The claim loop: long-poll for as many tasks as there are free slots, hand each to `start`, and
// when full wait for a slot to free (no timer polling). Failures back off with jitter.
import type { AgentName } from '../protocol/agents.ts';
import type { Claim, HeartbeatReply, LeaseRef } from '../protocol/runner.ts';
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
  /** The agent CLIs found installed; the server hands this runner only their turns. */
  agents: readonly AgentName[];
  attempts: RunningAttempts;
  log: RunnerLog;
  /** Aborted by drain or stop: ends the open long poll and the loop. */
  signal: AbortSignal;
  /** Starts executing a claimed task; must not block. */
  start(claim: Claim): void;
}

/**
 * Runs until `deps.signal` aborts, and then until every claim it received has been acknowledged
 * and started (or left to the server), so a drain that waits for this sees every attempt. Never
 * throws. The next long poll goes out while the last reply's claims are being acknowledged: the
 * acknowledgement is a round trip, and tasks created meanwhile should not wait for it.
 */
export async function runClaimLoop(deps: ClaimLoopDeps): Promise<void> {
  const acknowledging = new Set<Promise<void>>();
  let failures = 0;
  while (!deps.signal.aborted) {
    await deps.attempts.whenFree(deps.config.capacity, deps.signal);
    if (deps.signal.aborted) break;
    failures = await claimOnce(deps, failures, acknowledging);
  }
  await Promise.all(acknowledging);
}

/** One long poll; returns the new count of consecutive failures. */
async function claimOnce(
  deps: ClaimLoopDeps,
  failures: number,
  acknowledging: Set<Promise<void>>,
): Promise<number> {
  const { client, config, signal } = deps;
  const max = deps.attempts.freeSlots(config.capacity);
  const body = {
    runner: config.name,
    instanceId: deps.instanceId,
    max,
    waitMs: config.longPollMs,
    kinds: [...deps.kinds],
    agents: [...deps.agents],
  };
  try {
    const reply = await client.claimTasks(body, { signal });
    // Tasks in a reply are leased to us even if a drain began meanwhile: run them, never strand them.
    if (reply.tasks.length > 0) {
      deps.attempts.reserve(reply.tasks.length);
      const started = startAcknowledged(deps, reply.tasks).finally(() => {
        deps.attempts.release(reply.tasks.length);
        acknowledging.delete(started);
      });
      acknowledging.add(started);
    }
    return 0;
  } catch (err) {
    if (signal.aborted) return failures;
    const waitMs = retryDelayMs(err, failures + 1, config);
    logClaimFailure(deps.log, err, waitMs);
    await delay(waitMs, signal);
    return failures + 1;
  }
}

/** Acknowledgement tries, each bounded, before the claims are left for the server to take back. */
const ACK_TRIES = 4;
const ACK_TIMEOUT_MS = 5_000;

/**
 * Acknowledges the claims (a heartbeat) and only then starts them. Until acknowledged, a lease
 * that expires gives the task back without counting an attempt, so a claim reply lost on the
 * way costs nothing; acknowledging first means nothing runs that the server could give away.
 */
async function startAcknowledged(deps: ClaimLoopDeps, claims: Claim[]): Promise<void> {
  const leases = claims.map((c) => ({ taskId: c.task.id, leaseToken: c.leaseToken }));
  const reply = await acknowledge(deps, leases);
  if (reply === undefined) {
    const taskIds = claims.map((c) => c.task.id);
    deps.log('warn', 'could not acknowledge claimed tasks; the server will hand them out again', {
      taskIds,
    });
    return;
  }
  const lost = new Set(reply.lost);
  const cancel = new Set(reply.cancel);
  for (const claim of claims) {
    const taskId = claim.task.id;
    if (lost.has(taskId)) continue;
    deps.start(claim);
    if (cancel.has(taskId))
      deps.attempts.get(taskId)?.controller.abort(new Error('cancelled by a client'));
  }
}

async function acknowledge(
  deps: ClaimLoopDeps,
  leases: LeaseRef[],
): Promise<HeartbeatReply | undefined> {
  for (let failures = 1; failures <= ACK_TRIES; failures++) {
    try {
      const body = { runner: deps.config.name, leases };
      return await deps.client.heartbeat(body, { timeoutMs: ACK_TIMEOUT_MS });
    } catch (err) {
      if (isAuthError(err) || failures === ACK_TRIES) return undefined;
      // Not cut short by a drain: these tasks are ours until the server hears otherwise.
      await delay(retryDelayMs(err, failures, deps.config));
    }
  }
  return undefined;
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
