// Fixtures of the claim loop tests: claims, a loop against a scripted client that records what it
// starts, every heartbeat and every acknowledgement answer it applies, and small waits.
import type { Claim, ClaimBody, ClaimReply, HeartbeatReply } from '../../../src/protocol/runner.ts';
import type { Kind, Task } from '../../../src/protocol/tasks.ts';
import { runClaimLoop } from '../../../src/runner/claim-loop.ts';
import { RunningAttempts } from '../../../src/runner/running-attempts.ts';
import type { OutpostClient } from '../../../src/sdk/client.ts';

export function claimOf(id: string, kind: Kind = 'shell'): Claim {
  const spec = kind === 'shell' ? { command: 'true' } : { path: `${id}.txt` };
  const task = { id, kind, spec } as unknown as Task;
  return { task, attempt: 1, leaseToken: `lease-${id}`, leaseExpiresAt: Date.now() + 30_000 };
}

export function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export interface LoopOptions {
  capacity?: number;
  /** The server's hello listed claim-acks. */
  claimAcks?: boolean;
  /** What every heartbeat answers (default: at once, nothing lost). */
  ack?: Promise<HeartbeatReply>;
  /** Heartbeats that fail (the server is down) before one is answered. */
  failingAcks?: number;
  leaseMs?: number;
  /** Each attempt is done as soon as it starts and only reports its outcome (a quick read). */
  doneAtOnce?: boolean;
}

/** A loop against `claimTasks`, recording what it starts and every heartbeat it sends. */
export function loopWith(
  claimTasks: (body: ClaimBody, opts: { signal?: AbortSignal }) => Promise<ClaimReply>,
  opts: LoopOptions = {},
) {
  const { capacity = 4, claimAcks = true, ack, failingAcks = 0, leaseMs = 30_000 } = opts;
  const stopped = new AbortController();
  const attempts = new RunningAttempts();
  const started: string[] = [];
  const heartbeats: string[][] = [];
  const applied: HeartbeatReply[] = [];
  const client = {
    claimTasks,
    heartbeat: (body: { leases: { taskId: string }[] }): Promise<HeartbeatReply> => {
      heartbeats.push(body.leases.map((l) => l.taskId));
      if (heartbeats.length <= failingAcks) return Promise.reject(new TypeError('fetch failed'));
      return ack ?? Promise.resolve({ leases: [], lost: [], cancel: [] });
    },
  } as unknown as OutpostClient;
  const loop = runClaimLoop({
    client,
    config: { name: 'box', capacity, longPollMs: 30_000, retryBaseMs: 1, retryMaxMs: 2 },
    instanceId: 'i1',
    kinds: ['shell'],
    agents: [],
    attempts,
    log: () => undefined,
    signal: stopped.signal,
    start: (claim) => {
      started.push(claim.task.id);
      attempts.add(claim, Date.now());
      if (opts.doneAtOnce === true) attempts.markReporting(claim.task.id);
    },
    claimAcks,
    leaseMs,
    acknowledged: (reply) => applied.push(reply),
  });
  return { stopped, attempts, started, heartbeats, applied, loop };
}

/** A long poll that only ends when the loop stops. */
export function parked(opts: { signal?: AbortSignal }): Promise<ClaimReply> {
  return new Promise((_, reject) =>
    opts.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
  );
}

/** Claim polls: the first answers one task (t1), every later one parks. */
export function oneClaimThenPark() {
  let polls = 0;
  return (_: ClaimBody, opts: { signal?: AbortSignal }): Promise<ClaimReply> =>
    ++polls === 1 ? Promise.resolve({ tasks: [claimOf('t1')] }) : parked(opts);
}

/** Resolves once `check` holds, or after 5 s (the assertions that follow then say what failed). */
export async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
}
