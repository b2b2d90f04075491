// The task service: the one place that turns API operations into store calls and wake-ups.
// v1 routes and the legacy routes both call it, so there is a single implementation of the queue.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AppError } from '../../protocol/errors.ts';
import {
  isTerminal,
  KINDS,
  type CreateTaskBody,
  type Kind,
  type Outcome,
  type TaskState,
} from '../../protocol/tasks.ts';
import type {
  Claim,
  ClaimBody,
  ClaimReply,
  FinishBody,
  HeartbeatBody,
  HelloBody,
  HelloReply,
} from '../../protocol/runner.ts';
import { CLAIM_ACKS, MAX_CLAIM_WAIT_MS } from '../../protocol/runner.ts';
import type { Clock } from '../../lib/clock.ts';
import type {
  CreateTaskResult,
  HeartbeatResult,
  NewTask,
  StoredTask,
  Store,
  TaskChange,
  TaskFilter,
} from '../../store/types.ts';
import {
  QUEUE_KEY,
  taskKey,
  WaiterHub,
  watchKey,
  type Subscription,
  type WaitSignal,
} from './waiters.ts';
import { WakeTimer } from './wake-timer.ts';
import { GroupCommit } from '../../store/group-commit.ts';
import { RunnerRegistry } from './runner-registry.ts';
import type { ConfiguredSecrets } from '../callbacks/prepare-callbacks.ts';
import { buildNewTask, type CreateOptions } from './new-task.ts';
import { finishRefused, finishRequest } from './finish-requests.ts';

export interface QueueSettings {
  leaseMs: number;
  heartbeatMs: number;
  /** Added to a legacy poller's lease: old runners never heartbeat, so it covers the timeout. */
  legacyLeaseMarginMs: number;
  serverVersion: string;
  /** Backoff before a failed attempt runs again: doubles per attempt from baseMs, up to maxMs. */
  retry?: { baseMs: number; maxMs: number };
  /** Which callback secrets the server has, so a callback that could never be sent is refused. */
  callbackSecrets?: ConfiguredSecrets;
}

const NO_SECRETS: ConfiguredSecrets = { botToken: false, webhookSecret: false };

/** 1 s, 2 s, 4 s … up to 5 min: quick for a blip, patient with a machine that is down. */

const ALL_KINDS: readonly Kind[] = KINDS;

/** What a change means beyond its state: who else may now be able to run. */
interface WakeFlags {
  /** An agent turn in a session: its end may release the next turn. */
  sessionTurn: boolean;
  keyed: boolean;
}

export class TaskService {
  readonly hub = new WaiterHub<StoredTask>();
  readonly runners: RunnerRegistry;
  private readonly wakeTimer: WakeTimer;
  private readonly endListeners: ((task: StoredTask) => void)[] = [];
  private readonly creates = new GroupCommit((tasks: NewTask[]) => this.commitCreates(tasks));

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    readonly settings: QueueSettings,
  ) {
    this.wakeTimer = new WakeTimer(
      () => this.hub.notify(QUEUE_KEY),
      () => clock.now(),
    );
    // Online: seen within a lease, or the longest claim poll (a parked runner says nothing until
    // it returns), plus one heartbeat.
    const onlineWithinMs = Math.max(settings.leaseMs, MAX_CLAIM_WAIT_MS) + settings.heartbeatMs;
    this.runners = new RunnerRegistry(store, clock, onlineWithinMs);
  }

  /**
   * Creates (or, for a repeated idempotency key, finds) a task. Creates that arrive together are
   * committed in one transaction (group-commit.ts); each is committed, then announced, before its
   * caller hears back. A body that does not validate fails here, alone, before any batch.
   */
  async createTask(body: CreateTaskBody, opts: CreateOptions): Promise<CreateTaskResult> {
    return this.submitCreate(this.buildNewTask(body, opts, this.clock.now()));
  }

  /**
   * Through the group commit, unless the store groups the writes of a turn itself. Such a store
   * runs a turn's creates before its other writes, so claim polls are woken as soon as the create
   * is submitted: their claims join the same transaction and lease the task there, a commit and
   * a turn of the event loop sooner than if they waited for the create's commit.
   */
  private async submitCreate(task: NewTask): Promise<CreateTaskResult> {
    if (!this.store.batchesWrites) return this.creates.submit(task);
    const committed = this.commitCreates([task]);
    if (task.runAt <= this.clock.now()) this.hub.notify(QUEUE_KEY);
    const [result] = await committed;
    if (result === undefined) throw new Error('The store returned no result for a create');
    if (result instanceof Error) throw result;
    return result;
  }

  private async commitCreates(tasks: NewTask[]): Promise<(CreateTaskResult | Error)[]> {
    const results = await this.store.createTasks(tasks, this.clock.now());
    for (const result of results)
      if (!(result instanceof Error) && result.created) this.announce(result.task);
    return results;
  }

  /** The task a create body makes at `now`, validated; schedules build theirs here too. */
  buildNewTask(body: CreateTaskBody, opts: CreateOptions, now: number): NewTask {
    return buildNewTask(body, opts, now, this.settings.callbackSecrets ?? NO_SECRETS);
  }

  /**
   * createTask, then, when `waitMs` > 0, the task after waiting up to that long for it to end. The
   * wait subscribes before the create commits, so no end can slip by, and it reads nothing back
   * when the end it hears of carries the task.
   */
  async createTaskAndWait(
    body: CreateTaskBody,
    opts: CreateOptions,
    waitMs: number,
    signal?: WaitSignal,
  ): Promise<CreateTaskResult> {
    const task = this.buildNewTask(body, opts, this.clock.now());
    if (waitMs <= 0) return this.submitCreate(task);
    const sub = this.hub.subscribe(taskKey(task.id));
    try {
      const result = await this.submitCreate(task);
      // A repeated idempotency key names an older task, which may already have ended.
      if (!result.created)
        return { ...result, task: await this.getTask(result.task.id, waitMs, signal) };
      return { ...result, task: await this.afterWait(sub, result.task, waitMs, signal) };
    } finally {
      sub.dispose();
    }
  }

  /** The task, after waiting up to `waitMs` for it to end. Never consumes it. */
  async getTask(id: string, waitMs = 0, signal?: WaitSignal): Promise<StoredTask> {
    const sub = this.hub.subscribe(taskKey(id));
    try {
      return await this.afterWait(sub, await this.mustGet(id), waitMs, signal);
    } finally {
      sub.dispose();
    }
  }

  /** `task` as read after subscribing `sub`; then, unless it has ended, the task after the wait. */
  private async afterWait(
    sub: Subscription<StoredTask>,
    task: StoredTask,
    waitMs: number,
    signal?: WaitSignal,
  ): Promise<StoredTask> {
    if (isTerminal(task.state) || waitMs <= 0) return task;
    await sub.wait(waitMs, signal);
    return sub.notifiedWith() ?? (await this.mustGet(task.id));
  }

  /**
   * As getTask, plus its attempt history, callbacks and, while it waits, why (a single task's
   * read, not lists).
   */
  async getTaskWithAttempts(id: string, waitMs = 0, signal?: WaitSignal): Promise<StoredTask> {
    const task = await this.getTask(id, waitMs, signal);
    const callbacks = await this.store.listCallbacks(id);
    const waitReason = await this.runners.waitReason(task);
    const read = {
      ...task,
      ...(callbacks.length > 0 ? { callbacks } : {}),
      ...(waitReason !== undefined ? { waitReason } : {}),
    };
    if (task.attempt === 0) return read;
    return { ...read, attempts: await this.store.listAttempts(id) };
  }

  /** Calls `listener` each time a task reaches a terminal state (the callback dispatcher). */
  onTaskEnd(listener: (task: StoredTask) => void): void {
    this.endListeners.push(listener);
  }

  listTasks(filter: TaskFilter) {
    return this.store.listTasks(filter);
  }

  countTasks() {
    return this.store.countTasks();
  }

  countUnreadResults() {
    return this.store.countUnreadResults();
  }

  /** Records a client's first read of a result; true the first time. */
  markResultRead(id: string): Promise<boolean> {
    return this.store.markResultRead(id, this.clock.now());
  }

  async cancelTask(id: string): Promise<StoredTask> {
    const task = await this.store.cancelTask(id, this.clock.now());
    if (!task) throw new AppError('not_found', `Task ${id} not found`);
    this.announce(task);
    return task;
  }

  /** Registers the runner; leases its earlier instances held are given up at once (it restarted). */
  async hello(body: HelloBody): Promise<HelloReply> {
    const now = this.clock.now();
    await this.store.touchRunner({ ...body, labels: body.labels ?? [] }, now);
    this.runners.helloRecorded(body.name, now);
    const released = await this.store.releaseInstance(body.name, body.instanceId, now);
    for (const task of released) this.announce(task);
    const { leaseMs, heartbeatMs, serverVersion } = this.settings;
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
    if (acking === undefined) await this.runners.seen(body.runner);
    const tasks = await this.pollClaims(body.waitMs ?? 0, signal, (now) =>
      this.store.claimTasks({
        runner: body.runner,
        instanceId: body.instanceId,
        kinds: body.kinds ?? ALL_KINDS,
        agents: body.agents,
        max: body.max,
        leaseMs: this.settings.leaseMs,
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
        kinds: ALL_KINDS,
        max: 1,
        leaseMs: this.settings.legacyLeaseMarginMs,
        legacy: true,
        now,
      }),
    );
    return claims[0];
  }

  async heartbeat(body: HeartbeatBody): Promise<HeartbeatResult> {
    await this.runners.seen(body.runner);
    return this.store.extendLeases(
      body.runner,
      body.leases,
      this.settings.leaseMs,
      this.clock.now(),
    );
  }

  /**
   * Ends the attempt, or queues the task again after a backoff when its failure may be retried.
   * `runner`: the runner the caller's token is bound to, which may finish only its own leases.
   */
  async finishAttempt(body: FinishBody, runner?: string): Promise<StoredTask> {
    const task = await this.store.finishAttempt(
      finishRequest(this.settings, body, this.clock.now(), runner),
    );
    if (!task) throw await finishRefused(this.store, body.taskId, runner);
    this.announce(task);
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
    const reqs = bodies.map((b) => finishRequest(this.settings, b, now, runner));
    const answers: (StoredTask | AppError)[] = [];
    for (const [i, task] of (await this.store.finishAttempts(reqs)).entries()) {
      if (task !== undefined) this.announce(task);
      answers.push(task ?? (await finishRefused(this.store, bodies[i]!.taskId, runner)));
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
    return this.store.extendRunningLeases(now + this.settings.leaseMs, now);
  }

  /** Called by the lease reaper: expired leases go back to the queue or end `lost`. */
  async requeueExpired(limit = 500): Promise<number> {
    const tasks = await this.store.requeueExpired(this.clock.now(), limit);
    for (const task of tasks) this.announce(task);
    return tasks.length;
  }

  close(): void {
    this.wakeTimer.clear();
  }

  private async pollClaims(
    waitMs: number,
    signal: WaitSignal | undefined,
    claim: (now: number) => Promise<Claim[]>,
  ): Promise<Claim[]> {
    const deadline = this.clock.now() + waitMs;
    for (;;) {
      const sub = this.hub.subscribe(QUEUE_KEY);
      try {
        const claims = await claim(this.clock.now());
        if (signal?.aborted) return await this.releaseUndelivered(claims);
        for (const c of claims) this.hub.notify(watchKey(c.task.id));
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
    for (const task of await this.store.releaseLeases(refs, this.clock.now())) this.announce(task);
    return [];
  }

  /**
   * Wakes this server's waiters for a change another server made (replicas on one database).
   * End listeners are not called: the server that ended the task runs them.
   */
  announceChange(change: TaskChange): void {
    if ('output' in change) this.hub.notify(watchKey(change.taskId));
    else
      this.wake(change.taskId, change.state, change.runAt, {
        sessionTurn: change.kind === 'agent' && change.inSession,
        keyed: change.keyed === true,
      });
  }

  /** Tells waiters what changed: claimers about runnable tasks, task waiters about endings. */
  announce(task: StoredTask): void {
    const flags = {
      sessionTurn: task.kind === 'agent' && task.sessionKey !== undefined,
      keyed: task.concurrency !== undefined,
    };
    this.wake(task.id, task.state, task.runAt, flags, task);
    if (isTerminal(task.state)) for (const listener of this.endListeners) listener(task);
  }

  /** `task`, when the caller has it, goes to the task's waiters so that they need not read it. */
  private wake(
    id: string,
    state: TaskState,
    runAt: number,
    what: WakeFlags,
    task?: StoredTask,
  ): void {
    this.hub.notify(watchKey(id));
    if (state === 'queued' || state === 'scheduled') {
      if (runAt > this.clock.now()) this.wakeTimer.wakeAt(runAt);
      else this.hub.notify(QUEUE_KEY);
    }
    // A keyed task that stopped running freed a slot another task of its key may wait for.
    if (what.keyed && state !== 'running') this.hub.notify(QUEUE_KEY);
    if (isTerminal(state)) {
      this.hub.notify(taskKey(id), task);
      // The end of an agent turn may have released the next turn of its session.
      if (what.sessionTurn) this.hub.notify(QUEUE_KEY);
    }
  }

  private async mustGet(id: string): Promise<StoredTask> {
    const task = await this.store.getTask(id);
    if (!task) throw new AppError('not_found', `Task ${id} not found`);
    return task;
  }
}
