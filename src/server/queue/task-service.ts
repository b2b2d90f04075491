// The task service: the one place that turns client operations on tasks into store calls, and
// every change into wake-ups. v1 and legacy routes both call it (the runner side is
// lease-service.ts), so there is a single implementation of the queue.
import { AppError } from '../../protocol/errors.ts';
import { isTerminal, type CreateTaskBody, type TaskState } from '../../protocol/tasks.ts';
import { MAX_CLAIM_WAIT_MS } from '../../protocol/runner.ts';
import type { Clock } from '../../lib/clock.ts';
import type {
  CreateTaskResult,
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

  close(): void {
    this.wakeTimer.clear();
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
