// The claim loop: long-poll for as many tasks as there are free slots, hand each to `start`, and
// when full wait for a slot to free (no timer polling). Failures back off with jitter.
//
// A claim is acknowledged before its task starts, so that nothing with effects runs that the
// server could still give away (see startAcknowledged). A read changes nothing, so running one
// twice costs nothing: `file.read` and `file.list` start at once, and their acknowledgements
// follow as a record (attempts count) rather than as a gate. That takes a round trip through the
// server off each queue-bound task.
import type { AgentName } from '../protocol/agents.ts';
import type { Claim, HeartbeatReply, LeaseRef } from '../protocol/runner.ts';
import type { Kind } from '../protocol/tasks.ts';
import { delay } from '../sdk/delay.ts';
import type { OutpostClient } from '../sdk/client.ts';
import type { RunnerConfig } from './config.ts';
import { isAuthError, isBadRequest, retryDelayMs } from './retry-delay.ts';
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
  /** The server takes `acks` in a claim (its hello listed CLAIM_ACKS). */
  claimAcks: boolean;
  /** The server's lease length (its hello): how long a claim may wait for its acknowledgement. */
  leaseMs: number;
  /** Applies an acknowledgement's answer to attempts already running (the lease keeper's apply). */
  acknowledged(reply: HeartbeatReply): void;
}

/** Kinds whose attempts only read: they start before their claim is acknowledged. */
const READ_ONLY_KINDS: ReadonlySet<Kind> = new Set<Kind>(['file.read', 'file.list']);

function isRead(claim: Claim): boolean {
  return READ_ONLY_KINDS.has(claim.task.kind);
}

/**
 * Runs until `deps.signal` aborts, and then until every claim it received has been acknowledged
 * and started (or left to the server), so a drain that waits for this sees every attempt. Never
 * throws. A reply's claims are acknowledged by the next claim (`acks`) when the server takes that
 * and a slot is free for it to ask for; otherwise by a heartbeat, while the next long poll goes out:
 * the acknowledgement is a round trip, and tasks created meanwhile should not wait for it.
 */
export async function runClaimLoop(deps: ClaimLoopDeps): Promise<void> {
  const state: LoopState = {
    failures: 0,
    unacked: [],
    running: [],
    acking: new Set(),
    claimAcks: deps.claimAcks,
  };
  const { attempts, config, signal } = deps;
  while (!signal.aborted) {
    const ride = state.claimAcks && attempts.freeSlots(config.capacity) > 0;
    if (state.unacked.length > 0 && !ride) ackByHeartbeat(deps, state, state.unacked.splice(0));
    // Without a claim to ride, the lease keeper's next beat acknowledges the reads still running.
    if (!ride) state.running = [];
    if (state.unacked.length === 0) await attempts.whenFree(config.capacity, signal);
    if (signal.aborted) break;
    await claimOnce(deps, state);
  }
  if (state.unacked.length > 0) ackByHeartbeat(deps, state, state.unacked.splice(0));
  await Promise.all(state.acking);
}

interface LoopState {
  /** Consecutive failed claims, for the backoff. */
  failures: number;
  /** Claims of the last reply, holding their slots until acknowledged and started. */
  unacked: Claim[];
  /** Read-only claims of the last reply, started already; acknowledged for the record. */
  running: Claim[];
  /** Heartbeat acknowledgements in flight. */
  acking: Set<Promise<void>>;
  /** The server takes `acks` in a claim (its hello said so, and no claim carrying them failed). */
  claimAcks: boolean;
}

/** One claim: a long poll, or, carrying the last reply's acknowledgements, one that waits not. */
async function claimOnce(deps: ClaimLoopDeps, state: LoopState): Promise<void> {
  const { client, config, signal } = deps;
  const gated = state.unacked.splice(0);
  // A read that already ended needs no acknowledgement: its finish says more.
  const running = state.running
    .splice(0)
    .filter((c) => deps.attempts.get(c.task.id)?.reporting === false);
  const acks = [...gated, ...running];
  const body = {
    runner: config.name,
    instanceId: deps.instanceId,
    max: deps.attempts.freeSlots(config.capacity),
    waitMs: acks.length > 0 ? 0 : config.longPollMs,
    kinds: [...deps.kinds],
    agents: [...deps.agents],
    ...(acks.length > 0 ? { acks: acks.map(leaseOf) } : {}),
  };
  try {
    const reply = await client.claimTasks(body, { signal });
    if (acks.length > 0) {
      if (reply.acked === undefined) ackByHeartbeat(deps, state, gated);
      else {
        startAcked(deps, gated, reply.acked);
        deps.acknowledged(reply.acked);
      }
    }
    // Tasks in a reply are leased to us even if a drain began meanwhile: run them, never strand them.
    const reads = reply.tasks.filter(isRead);
    const others = reply.tasks.filter((claim) => !isRead(claim));
    for (const claim of reads) deps.start(claim);
    deps.attempts.reserve(others.length);
    state.unacked = others;
    state.running = reads;
    state.failures = 0;
  } catch (err) {
    // Whether the server saw the acknowledgements is unknown: a heartbeat says them again (the
    // lease keeper's, for reads already running). A server that refused the field (an older
    // replica) is not sent it again.
    if (acks.length > 0) {
      ackByHeartbeat(deps, state, gated);
      if (isBadRequest(err)) state.claimAcks = false;
    }
    if (signal.aborted) return;
    state.failures += 1;
    const waitMs = retryDelayMs(err, state.failures, config);
    logClaimFailure(deps.log, err, waitMs);
    await delay(waitMs, signal);
  }
}

function leaseOf(claim: Claim): LeaseRef {
  return { taskId: claim.task.id, leaseToken: claim.leaseToken };
}

/** Acknowledges reserved claims by heartbeat, then starts them and gives back their reservation. */
function ackByHeartbeat(deps: ClaimLoopDeps, state: LoopState, claims: Claim[]): void {
  // Only reads were acknowledged (they run already): the lease keeper's beat covers them.
  if (claims.length === 0) return;
  const deadline = Date.now() + deps.leaseMs;
  const started = startAcknowledged(deps, claims, deadline).finally(() => {
    deps.attempts.release(claims.length);
    state.acking.delete(started);
  });
  state.acking.add(started);
}

/**
 * Acknowledgement tries, each bounded, before a stopping loop leaves the claims for the server to
 * take back. A running loop keeps trying until the lease may have ended (see acknowledge).
 */
const ACK_TRIES = 4;
const ACK_TIMEOUT_MS = 5_000;

/**
 * Acknowledges the claims (a heartbeat) and only then starts them. Until acknowledged, a lease
 * that expires gives the task back without counting an attempt, so a claim reply lost on the
 * way costs nothing; acknowledging first means nothing runs that the server could give away.
 */
async function startAcknowledged(
  deps: ClaimLoopDeps,
  claims: Claim[],
  deadline: number,
): Promise<void> {
  const reply = await acknowledge(deps, claims.map(leaseOf), deadline);
  if (reply === undefined) {
    const taskIds = claims.map((c) => c.task.id);
    deps.log('warn', 'could not acknowledge claimed tasks; the server will hand them out again', {
      taskIds,
    });
    return;
  }
  startEach(deps, claims, reply);
}

/** Starts acknowledged claims and gives back the slots they held while acknowledged. */
function startAcked(deps: ClaimLoopDeps, claims: Claim[], reply: HeartbeatReply): void {
  try {
    startEach(deps, claims, reply);
  } finally {
    deps.attempts.release(claims.length);
  }
}

/** Starts each claim the acknowledgement did not report lost; a requested cancel aborts it. */
function startEach(deps: ClaimLoopDeps, claims: Claim[], reply: HeartbeatReply): void {
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

/**
 * The server may have committed an acknowledgement it never answered (it died first): then the
 * attempt counts, and a runner that gave up would leave the task idle until its lease ran out
 * and then spend an attempt on it. So while the loop runs, acknowledging keeps trying until
 * `deadline` (the lease's length after the claim), which outlasts a server restart; the answer
 * then says which leases still hold. A stopping loop (drain, stop) gives up after ACK_TRIES.
 */
async function acknowledge(
  deps: ClaimLoopDeps,
  leases: LeaseRef[],
  deadline: number,
): Promise<HeartbeatReply | undefined> {
  for (let failures = 1; ; failures++) {
    try {
      const body = { runner: deps.config.name, leases };
      return await deps.client.heartbeat(body, { timeoutMs: ACK_TIMEOUT_MS });
    } catch (err) {
      if (isAuthError(err)) return undefined;
      const waitMs = retryDelayMs(err, failures, deps.config);
      const inWindow = !deps.signal.aborted && Date.now() + waitMs < deadline;
      if (failures >= ACK_TRIES && !inWindow) return undefined;
      // Not cut short by a drain: these tasks are ours until the server hears otherwise.
      await delay(waitMs);
    }
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
