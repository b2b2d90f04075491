// Keeps the leases of every running attempt alive with ONE heartbeat call per interval, and acts
// on the reply: a lost lease stops its attempt silently, a cancel request stops it as cancelled.
import type { HeartbeatReply } from '../protocol/runner.ts';
import type { OutpostClient } from '../sdk/client.ts';
import type { RunningAttempts } from './running-attempts.ts';
import { errorFields, type RunnerLog } from './runner-log.ts';

export interface LeaseKeeperDeps {
  client: OutpostClient;
  runnerName: string;
  attempts: RunningAttempts;
  log: RunnerLog;
  heartbeatMs: number;
  leaseMs: number;
  /** Decisions made through the API about tasks this runner holds for approval. */
  onDecisions?: (decisions: NonNullable<HeartbeatReply['decisions']>) => void;
}

export interface LeaseKeeper {
  /**
   * Acts on a heartbeat's answer that came another way: the acknowledgement of claims whose
   * attempts started before it (see claim-loop.ts) renews, stops or cancels them as a beat would.
   */
  apply(reply: HeartbeatReply): void;
  stop(): void;
}

/** Why an attempt's signal was aborted, for logs and for telling cancel from loss. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/**
 * Heartbeats every `heartbeatMs` while attempts run. Beats never overlap: the next is scheduled
 * after the previous one settles, so a slow server is not sent a pile of concurrent beats.
 */
export function startLeaseKeeper(deps: LeaseKeeperDeps): LeaseKeeper {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void beat(deps).finally(schedule), deps.heartbeatMs);
  };
  schedule();
  return {
    apply: (reply) => applyReply(deps, reply, Date.now()),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

async function beat(deps: LeaseKeeperDeps): Promise<void> {
  const leases = deps.attempts.leases();
  if (leases.length > 0) {
    try {
      // A beat stuck on a dead connection must not outlive the next one: it would cost the lease.
      const body = { runner: deps.runnerName, leases };
      const reply = await deps.client.heartbeat(body, { timeoutMs: deps.heartbeatMs });
      applyReply(deps, reply, Date.now());
    } catch (err) {
      deps.log('warn', 'heartbeat failed; will retry at the next interval', errorFields(err));
    }
  }
  expireUnrenewed(deps, Date.now());
}

function applyReply(deps: LeaseKeeperDeps, reply: HeartbeatReply, now: number): void {
  for (const { taskId } of reply.leases) {
    const attempt = deps.attempts.get(taskId);
    if (attempt) attempt.renewedAt = now;
  }
  for (const taskId of reply.lost) {
    // An attempt reporting its outcome has nothing left to stop: its finish may have committed on
    // a server that died before answering, and the finish's own retry learns what became of it.
    if (deps.attempts.get(taskId)?.reporting === true) continue;
    markLost(deps, taskId, 'the server no longer holds this lease');
  }
  if (reply.decisions !== undefined && reply.decisions.length > 0)
    deps.onDecisions?.(reply.decisions);
  for (const taskId of reply.cancel) {
    const attempt = deps.attempts.get(taskId);
    if (!attempt || attempt.controller.signal.aborted) continue;
    deps.log('info', 'cancel requested; stopping the task', { taskId });
    attempt.controller.abort(new Error('cancelled by a client'));
  }
}

/**
 * Without a confirmed extension for a whole lease, the server has (or soon will have) requeued
 * the task for someone else; carrying on would run it twice, so the attempt stops unreported.
 */
function expireUnrenewed(deps: LeaseKeeperDeps, now: number): void {
  for (const attempt of deps.attempts.all()) {
    if (!attempt.lost && now - attempt.renewedAt > deps.leaseMs) {
      markLost(deps, attempt.claim.task.id, `no heartbeat confirmed for ${deps.leaseMs} ms`);
    }
  }
}

function markLost(deps: LeaseKeeperDeps, taskId: string, why: string): void {
  const attempt = deps.attempts.get(taskId);
  if (!attempt || attempt.lost) return;
  attempt.lost = true;
  deps.log('warn', 'lease lost; stopping the task without reporting it', { taskId, why });
  attempt.controller.abort(new LeaseLostError(why));
}
