// The runner side of the queue: hello, claims (long polls that lease), heartbeats and finishes,
// the legacy poll and result, and giving expired leases back. Every change is announced through
// the task service, which wakes whoever waits for it.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AppError } from '../../protocol/errors.ts';
import { KINDS, type Outcome } from '../../protocol/tasks.ts';
import type {
  Claim,
  ClaimBody,
  ClaimReply,
  FinishBody,
  HeartbeatBody,
  HelloBody,
  HelloReply,
} from '../../protocol/runner.ts';
import { CLAIM_ACKS } from '../../protocol/runner.ts';
import type { Clock } from '../../lib/clock.ts';
import type { HeartbeatResult, StoredTask, Store } from '../../store/types.ts';
import { QUEUE_KEY, watchKey, type WaitSignal } from './waiters.ts';
import { finishRequest, refusedFinish } from './finish-requests.ts';
import type { TaskService } from './task-service.ts';

export class LeaseService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly tasks: TaskService,
  ) {}

  /** Registers the runner; leases its earlier instances held are given up at once (it restarted). */
  async hello(body: HelloBody): Promise<HelloReply> {
    const now = this.clock.now();
    await this.store.touchRunner({ ...body, labels: body.labels ?? [] }, now);
    this.tasks.runners.helloRecorded(body.name, now);
    const released = await this.store.releaseInstance(body.name, body.instanceId, now);
    for (const task of released) this.tasks.announce(task);
    const { leaseMs, heartbeatMs, serverVersion } = this.tasks.settings;
    return {
      runner: body.name,
      leaseMs,
      heartbeatMs,
      serverVersion,
      serverTime: now,
      features: [CLAIM_ACKS],
    };
  }

  /**
   * Long-polls for up to `waitMs`; the moment the poll's connection closes, it gives up. `acks`
   * are acknowledged as a heartbeat of them would be, answered in `acked`: submitted in the same
   * turn as the claim, so both commit in one transaction (the store batches a turn's writes).
   */
  async claimTasks(body: ClaimBody, signal?: WaitSignal): Promise<ClaimReply> {
    const acks = body.acks ?? [];
    const acking =
      acks.length > 0 ? this.heartbeat({ runner: body.runner, leases: acks }) : undefined;
    // Awaited below; a claim that throws first must not leave it unhandled.
    acking?.catch(() => undefined);
    if (acking === undefined) await this.tasks.runners.seen(body.runner);
    const tasks = await this.pollClaims(body.waitMs ?? 0, signal, (now) =>
      this.store.claimTasks({
        runner: body.runner,
        instanceId: body.instanceId,
        kinds: body.kinds ?? KINDS,
        agents: body.agents,
        max: body.max,
        leaseMs: this.tasks.settings.leaseMs,
        now,
      }),
    );
    if (acking === undefined) return { tasks };
    try {
      return { tasks, acked: await acking };
    } catch (err) {
      // The runner hears only the error: the tasks it would never learn of go back at once.
      await this.releaseUndelivered(tasks);
      throw err;
    }
  }

  /** A legacy `/worker/poll`: one task it can express, leased for its timeout plus a margin. */
  async claimLegacy(
    runner: string,
    waitMs: number,
    signal?: WaitSignal,
  ): Promise<Claim | undefined> {
    const claims = await this.pollClaims(waitMs, signal, (now) =>
      this.store.claimTasks({
        runner,
        kinds: KINDS,
        max: 1,
        leaseMs: this.tasks.settings.legacyLeaseMarginMs,
        legacy: true,
        now,
      }),
    );
    return claims[0];
  }

  async heartbeat(body: HeartbeatBody): Promise<HeartbeatResult> {
    await this.tasks.runners.seen(body.runner);
    return this.store.extendLeases(
      body.runner,
      body.leases,
      this.tasks.settings.leaseMs,
      this.clock.now(),
    );
  }

  /**
   * Ends the attempt, or queues the task again after a backoff when its failure may be retried.
   * `runner`: the runner the caller's token is bound to, which may finish only its own leases.
   */
  async finishAttempt(body: FinishBody, runner?: string): Promise<StoredTask> {
    const task = await this.store.finishAttempt(
      finishRequest(this.tasks.settings, body, this.clock.now(), runner),
    );
    if (!task) {
      const answer = await refusedFinish(this.store, body, runner);
      if (answer instanceof AppError) throw answer;
      return answer;
    }
    this.tasks.announce(task);
    return task;
  }

  /**
   * finishAttempt for a runner's batch, committed in one transaction: each outcome answers on its
   * own (the task, or the error in its place), so one stale lease fails nobody else.
   */
  async finishAttempts(
    bodies: readonly FinishBody[],
    runner?: string,
  ): Promise<(StoredTask | AppError)[]> {
    const now = this.clock.now();
    const reqs = bodies.map((b) => finishRequest(this.tasks.settings, b, now, runner));
    const answers: (StoredTask | AppError)[] = [];
    for (const [i, task] of (await this.store.finishAttempts(reqs)).entries()) {
      if (task !== undefined) this.tasks.announce(task);
      answers.push(task ?? (await refusedFinish(this.store, bodies[i]!, runner)));
    }
    return answers;
  }

  /** Legacy results carry no lease token: they finish the current legacy lease, if any. */
  async finishLegacy(taskId: string, outcome: Outcome): Promise<StoredTask> {
    const lease = await this.store.getLease(taskId);
    if (!lease?.legacy) {
      const known = await this.store.getTask(taskId);
      if (!known) throw new AppError('not_found', 'Task not found');
      throw new AppError('lease_lost', 'Task is not running on a legacy runner; result refused');
    }
    return this.finishAttempt({ taskId, leaseToken: lease.leaseToken, outcome });
  }

  /**
   * Called once as the server starts, before the reaper: runners could not heartbeat while the
   * server was down, so each running lease gets one more lease period to be renewed. Without it, a
   * restart after a longer outage would requeue work that is still running, and run it twice.
   */
  extendLeasesAfterStart(): Promise<number> {
    const now = this.clock.now();
    return this.store.extendRunningLeases(now + this.tasks.settings.leaseMs, now);
  }

  /** Called by the lease reaper: expired leases go back to the queue or end `lost`. */
  async requeueExpired(limit = 500): Promise<number> {
    const tasks = await this.store.requeueExpired(this.clock.now(), limit);
    for (const task of tasks) this.tasks.announce(task);
    return tasks.length;
  }

  private async pollClaims(
    waitMs: number,
    signal: WaitSignal | undefined,
    claim: (now: number) => Promise<Claim[]>,
  ): Promise<Claim[]> {
    const deadline = this.clock.now() + waitMs;
    for (;;) {
      const sub = this.tasks.hub.subscribe(QUEUE_KEY);
      try {
        const claims = await claim(this.clock.now());
        if (signal?.aborted) return await this.releaseUndelivered(claims);
        for (const c of claims) this.tasks.hub.notify(watchKey(c.task.id));
        const remaining = deadline - this.clock.now();
        if (claims.length > 0 || remaining <= 0) return claims;
        if (!(await sub.wait(remaining, signal))) return [];
        // A store that batches a turn's writes runs its creates first, so every task created in
        // this turn is in the claim anyway. Otherwise, one turn of the event loop first: tasks
        // created in the same I/O turn as the one that woke this poll then leave together.
        if (!this.store.batchesWrites) await nextTurn();
      } finally {
        sub.dispose();
      }
    }
  }

  /** The poll's client left while the claim ran: hand its tasks back instead of stranding them. */
  private async releaseUndelivered(claims: Claim[]): Promise<Claim[]> {
    if (claims.length === 0) return claims;
    const refs = claims.map((c) => ({ taskId: c.task.id, leaseToken: c.leaseToken }));
    for (const task of await this.store.releaseLeases(refs, this.clock.now()))
      this.tasks.announce(task);
    return [];
  }
}
