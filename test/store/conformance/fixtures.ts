// Builders and helpers shared by the store conformance sections: fixed times, new tasks, claims.
import assert from 'node:assert/strict';
import { newId } from '../../../src/lib/ids.ts';
import { AppError, type ErrorCode } from '../../../src/protocol/errors.ts';
import { KINDS, type Outcome } from '../../../src/protocol/tasks.ts';
import type { Claim } from '../../../src/protocol/runner.ts';
import type { ClaimRequest, NewTask, RunnerHello, Store } from '../../../src/store/types.ts';

/** Every test runs at fixed times after T0; nothing sleeps. */
export const T0 = 1_700_000_000_000;
export const LEASE_MS = 30_000;

let sequence = 0;

/** A new runnable shell task. Each gets a later id millisecond, so id order is creation order. */
export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  sequence += 1;
  return {
    id: newId(T0 + sequence),
    kind: 'shell',
    spec: { command: 'true' },
    priority: 0,
    runAt: T0,
    timeoutMs: 60_000,
    maxAttempts: 1,
    retryOnFailure: false,
    origin: 'v1',
    legacyCompatible: true,
    ...overrides,
  };
}

export function claimRequest(overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return { runner: 'r1', kinds: KINDS, max: 10, leaseMs: LEASE_MS, now: T0, ...overrides };
}

export function runnerHello(overrides: Partial<RunnerHello> = {}): RunnerHello {
  return {
    name: 'r1',
    instanceId: 'i1',
    labels: [],
    capacity: 4,
    kinds: ['shell'],
    version: '0.1.0',
    ...overrides,
  };
}

export const SUCCEEDED: Outcome = { status: 'succeeded', exitCode: 0, stdout: 'ok\n', stderr: '' };
export const FAILED: Outcome = {
  status: 'failed',
  exitCode: 1,
  error: { kind: 'exit', message: 'exit code 1', exitCode: 1, retryable: true },
};

/** Creates `count` tasks at T0 and returns their ids in creation order. */
export async function addTasks(
  store: Store,
  count: number,
  overrides: Partial<NewTask> = {},
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++)
    ids.push((await store.createTask(newTask(overrides), T0)).task.id);
  return ids;
}

/**
 * Claims exactly one task and acknowledges it as a runner does before starting it (a heartbeat
 * at claim time, which leaves the expiry where it was), failing the test on anything else.
 */
export async function claimOne(
  store: Store,
  overrides: Partial<ClaimRequest> = {},
): Promise<Claim> {
  const request = claimRequest({ max: 1, ...overrides });
  const claims = await store.claimTasks(request);
  assert.equal(claims.length, 1, 'expected exactly one claim');
  await ack(store, claims, request.runner, request.now, request.leaseMs);
  return claims[0]!;
}

/** Acknowledges claims with a heartbeat at `now`, as a runner does before it starts them. */
export async function ack(
  store: Store,
  claims: Claim[],
  runner = 'r1',
  now = T0,
  leaseMs = LEASE_MS,
): Promise<void> {
  const leases = claims.map((c) => ({ taskId: c.task.id, leaseToken: c.leaseToken }));
  const beat = await store.extendLeases(runner, leases, leaseMs, now);
  assert.deepEqual(beat.lost, [], 'acknowledged');
}

/** Creates one task and claims it: the common start of lease tests. */
export async function startTask(store: Store, overrides: Partial<NewTask> = {}): Promise<Claim> {
  const { task } = await store.createTask(newTask(overrides), T0);
  const claim = await claimOne(store);
  assert.equal(claim.task.id, task.id);
  return claim;
}

/**
 * Runs `loops` claim loops at once, spread over `stores`, each until a claim comes back empty.
 * Returns every claimed id; a duplicate means two claimers got the same task.
 */
export async function claimConcurrently(
  stores: readonly Store[],
  loops: number,
  now = T0,
): Promise<string[]> {
  const claimed: string[] = [];
  const loop = async (i: number): Promise<void> => {
    const store = stores[i % stores.length]!;
    for (;;) {
      const claims = await store.claimTasks(
        claimRequest({ runner: `r${i}`, max: 1 + (i % 4), now }),
      );
      if (claims.length === 0) return;
      claimed.push(...claims.map((c) => c.task.id));
    }
  };
  await Promise.all(Array.from({ length: loops }, (_, i) => loop(i)));
  return claimed;
}

/** Every id claimed once: no duplicates, none missed. */
export function assertClaimedOnce(claimed: readonly string[], ids: readonly string[]): void {
  assert.equal(new Set(claimed).size, claimed.length, 'a task was claimed twice');
  assert.deepEqual([...claimed].sort(), [...ids].sort());
}

/** For assert.rejects: the error is an AppError with this code. */
export function appError(code: ErrorCode): (error: unknown) => boolean {
  return (error) => error instanceof AppError && error.code === code;
}
