// The Store interface, named for intent. Every method is async, atomic on its own, and takes time
// as an argument. SQLite and PostgreSQL implement it alike; nothing backend-specific leaks above.
import type {
  Attempt,
  Concurrency,
  Kind,
  Outcome,
  Target,
  Task,
  TaskState,
} from '../protocol/tasks.ts';
import type { Role, RunnerInfo, TokenInfo } from '../protocol/auth.ts';
import type { Claim, LeaseRef } from '../protocol/runner.ts';
import type { Event } from '../protocol/events.ts';
import type { LogPage, OutputChunk } from '../protocol/output.ts';
import type { AgentName, RecentSession, Session } from '../protocol/agents.ts';
import type { CallbackStatus } from '../protocol/callbacks.ts';
import type { TaskSignature } from '../protocol/signature.ts';
import type { CreateScheduleBody, Overlap, Schedule } from '../protocol/schedules.ts';
import type { HoldDecision } from '../protocol/approvals.ts';

/** Where a task came from: legacy tasks keep the old API's result semantics. */
export type TaskOrigin = 'v1' | 'legacy';

/** A task as the store keeps it: the wire task plus fields only the server reads. */
export interface StoredTask extends Task {
  origin: TaskOrigin;
  /** Free-form data kept with the task (legacy dispatch fields, client hints). */
  metadata?: Record<string, unknown>;
  /** When a client first read the finished result (legacy `task.reconciled`). */
  resultReadAt?: number;
}

export interface NewTask {
  id: string;
  kind: Kind;
  spec: Record<string, unknown>;
  priority: number;
  runAt: number;
  timeoutMs: number;
  maxAttempts: number;
  retryOnFailure: boolean;
  target?: Target;
  labels?: string[];
  sessionKey?: string;
  /** At most `limit` tasks with this key run at once; enforced by claimTasks. */
  concurrency?: Concurrency;
  /** Signed mode: kept as the client sent it and handed to the runner with the claim. */
  signature?: TaskSignature;
  origin: TaskOrigin;
  metadata?: Record<string, unknown>;
  /** True when a legacy `/worker/poll` runner can express and run this task. */
  legacyCompatible: boolean;
  /** Idempotency: a repeat with the same key returns the first task… */
  idempotencyKey?: string;
  /** …unless its request hash differs, which is a `conflict`. */
  requestHash?: string;
  /** Where the server posts the answer when the task ends; stored in the task's transaction. */
  callbacks?: NewCallback[];
}

export type CallbackKind = CallbackStatus['kind'];

export interface NewCallback {
  kind: CallbackKind;
  /** The channel id (discord) or the URL (webhook). */
  target: string;
  /** This task's bot token or HMAC key; absent when the server's configured one applies. */
  secret?: string;
}

/** A callback taken for delivery: with its secret, which only the dispatcher ever reads. */
export interface ClaimedCallback {
  id: number;
  taskId: string;
  kind: CallbackKind;
  target: string;
  secret?: string;
  /** Counted attempts so far (a rate-limit wait is not one). */
  attempts: number;
  parts?: number;
  /** Discord messages already posted: delivery resumes after them, never re-posts them. */
  sentParts: number;
  lastError?: string;
}

/** Fences a write about a claimed delivery, as a lease token fences a running attempt. */
export interface CallbackClaimRef {
  id: number;
  claimToken: string;
  now: number;
}

export interface CallbackClaimRequest extends CallbackClaimRef {
  /** Until when the claim holds; a delivery that outlives it may be taken over. */
  claimedUntil: number;
}

export interface CallbackProgress extends CallbackClaimRequest {
  parts: number;
  sentParts: number;
}

/**
 * How a delivery attempt ended: `sent`; `retry` at `nextAt` (`counted: false` for a rate-limit
 * wait); or finally `failed`. Ending (sent or failed) also forgets the callback's secret.
 */
export type CallbackEnd =
  | { result: 'sent' }
  | { result: 'retry'; nextAt: number; error: string; counted: boolean }
  | { result: 'failed'; error: string; data?: Record<string, unknown> };

export type CallbackSettlement = CallbackClaimRef & CallbackEnd;

export interface CreateTaskResult {
  task: StoredTask;
  /** False when an idempotency key matched an existing task. */
  created: boolean;
}

export interface TaskFilter {
  state?: TaskState;
  kind?: Kind;
  runner?: string;
  sessionKey?: string;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  limit: number;
}

export interface TaskPage {
  tasks: StoredTask[];
  nextCursor?: string;
}

/**
 * A claim takes a task only if the runner may run it: its kind (and agent), its target runner,
 * the labels it requires (`target.labels`, all of them, matched against the labels of the
 * runner's registry row, i.e. its latest hello; legacy pollers have none), and a free slot under
 * its concurrency key.
 */
export interface ClaimRequest {
  runner: string;
  instanceId?: string;
  kinds: readonly Kind[];
  /** Only `agent` tasks for these agents (all when undefined). */
  agents?: readonly string[];
  max: number;
  /** Lease length from now. */
  leaseMs: number;
  /** Legacy pollers never heartbeat: their lease is the task's timeout plus `leaseMs`. */
  legacy?: boolean;
  now: number;
}

export interface FinishRequest {
  taskId: string;
  leaseToken: string;
  outcome: Outcome;
  now: number;
  /**
   * When set, only a lease this runner holds is finished (a token bound to one runner reports
   * only its own attempts); another runner's lease is left alone, as a lost one would be.
   */
  runner?: string;
  /**
   * When set, a failed attempt goes back to the queue instead of ending, if attempts remain, no
   * cancel was asked for, and either the outcome's error is retryable or the task has
   * `retryOnFailure` and the attempt failed or timed out. It runs again after
   * `min(maxMs, baseMs * 2^(attempt-1)) * jitter`.
   */
  retry?: RetryPolicy;
}

export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  /** A random factor in [0.5, 1], drawn by the caller, so the store stays deterministic. */
  jitter: number;
}

export interface HeartbeatResult {
  leases: { taskId: string; leaseExpiresAt: number }[];
  lost: string[];
  cancel: string[];
  /** Decisions recorded through the API about tasks this runner still holds. */
  decisions: { taskId: string; decision: HoldDecision }[];
}

/** A runner holds its leased task for a person's approval (fenced by the lease token). */
export interface HoldRequest {
  taskId: string;
  leaseToken: string;
  reason: string;
  /** The policy rule that asked for approval, e.g. `commands.requireApproval[0]`. */
  rule: string;
  expiresAt: number;
  /** The `at` of the remote decision the runner refused; any other recorded decision is kept. */
  refusedAt?: number;
  now: number;
}

/** Why a decision about a task was not recorded. */
export type DecideRefusal = 'not_found' | 'not_held';

export type DecideResult = { task: StoredTask } | { refused: DecideRefusal };

export interface LeaseInfo {
  leaseToken: string;
  runner: string;
  legacy: boolean;
  attempt: number;
  leaseExpiresAt: number;
}

export interface RunnerHello {
  name: string;
  instanceId: string;
  labels: string[];
  capacity: number;
  kinds: string[];
  version: string;
  policyDigest?: string;
}

export interface NewToken {
  id: string;
  name: string;
  role: Role;
  runner?: string;
  /** SHA-256 hex of the secret; the secret itself is never stored. */
  hash: string;
}

export interface NewEnrollment {
  id: string;
  /** The runner name the exchanged token will be bound to. */
  runner: string;
  /** SHA-256 hex of the one-time code; the code itself is never stored. */
  hash: string;
  expiresAt: number;
}

/** Why a code was not exchanged; each has its own message for the person holding it. */
export type EnrollmentRefusal = 'unknown' | 'used' | 'expired';

export type RedeemResult = { token: TokenInfo } | { refused: EnrollmentRefusal };

export type StateCounts = Record<TaskState, number>;

export interface AppendOutputRequest {
  taskId: string;
  leaseToken: string;
  /** In the runner's seq order; chunks at or below the attempt's stored seq are skipped. */
  chunks: OutputChunk[];
  /** Bytes kept per task: the first half as the head, the last half as a rolling tail. */
  capBytes: number;
  /** The runner's running total of this attempt's dropped bytes; growth is marked and counted. */
  droppedBytes?: number;
  now: number;
}

export interface AppendOutputResult {
  /** Highest runner seq of this attempt now stored. */
  storedThrough: number;
  /** The task's newest server seq, to wake followers only when it moved. */
  lastSeq: number;
  added: number;
}

/** An event to append; the store adds the sequence number, time and the task's kind and state. */
export interface NewEvent {
  type: string;
  taskId?: string;
  runner?: string;
  data?: Record<string, unknown>;
}

/** A stored event, plus what legacy readers show about its task (absent once it is pruned). */
export interface StoredEvent extends Event {
  task?: { origin: TaskOrigin; sessionKey?: string; metadata?: Record<string, unknown> };
}

export interface EventFilter {
  /** Only events after this sequence number. */
  after?: number;
  type?: string;
  taskId?: string;
  limit: number;
  /** Oldest first (the default, for reading on with a cursor) or newest first (legacy). */
  order?: 'asc' | 'desc';
}

export interface EventStats {
  total: number;
  byType: { type: string; count: number }[];
  /** By the task state recorded with each event; events without a task are not counted here. */
  byState: { state: string; count: number }[];
  oldestAt?: number;
  newestAt?: number;
}

/**
 * What retention may delete, decided by the caller from config. A task that is not terminal is
 * never deleted, whatever the rules say.
 */
export interface RetentionRules {
  now: number;
  /** Finished tasks that ended before this go (read or not). */
  finishedBefore: number;
  /** Finished tasks whose result a client read before this go. */
  readBefore: number;
  /** Beyond this many finished tasks, the oldest go. */
  maxFinished: number;
  eventsBefore: number;
  maxEvents: number;
  /** Sessions not used since this go (their conversations start fresh); undefined keeps them. */
  sessionsBefore?: number;
  /** At most this many rows of each table per call: small transactions never stall the server. */
  batch: number;
}

export interface PruneResult {
  tasks: number;
  events: number;
  sessions: number;
  /** True when a rule still matches rows: call again. */
  more: boolean;
}
export interface SessionFilter {
  agent?: AgentName;
  key?: string;
  limit: number;
}

/** What one runner last reported of an agent's recent sessions in its own CLI storage. */
export interface AgentSessionReport {
  runner: string;
  agent: AgentName;
  reportedAt: number;
  sessions: RecentSession[];
}

export interface SessionStats {
  total: number;
  /** Sessions with a turn submitted or finished within the window the caller gave. */
  active: number;
  byAgent: { agent: AgentName; count: number }[];
}

export interface NewSchedule {
  id: string;
  name?: string;
  cron: string;
  timezone?: string;
  overlap: Overlap;
  /** The task template as the client sent it (validated); each firing builds a task from it. */
  task: CreateScheduleBody['task'];
  enabled: boolean;
  /** The first slot, computed by the caller; undefined when disabled or it never fires. */
  nextRunAt?: number;
}

/** A schedule as stored; the wire shape as is. */
export type StoredSchedule = Schedule;

export interface ScheduleFilter {
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  limit: number;
}

export interface SchedulePage {
  schedules: StoredSchedule[];
  nextCursor?: string;
}

/**
 * One due slot of a schedule. The store holds no cron logic: the caller read the schedule, found
 * its slot due, computed the slot after it, and built the task from the template.
 */
export interface FireScheduleRequest {
  id: string;
  /** The schedule's `nextRunAt` as the caller read it: the slot fires only if it is still that. */
  expectedNextRunAt: number;
  /** The slot after this one; undefined when the expression has no later time. */
  nextRunAt?: number;
  /** The task this slot creates; undefined when it could not be built (see `error`). */
  task?: NewTask;
  /** Why no task could be built; recorded as `lastError` and a `schedule.failed` event. */
  error?: string;
  now: number;
}

/**
 * `fired`: the task was created; `skipped`: overlap `skip` and the previous task had not ended;
 * `failed`: no task could be built; `stale`: the slot was already taken (another server, or an
 * earlier call) or the schedule is gone, and nothing changed.
 */
export type FireScheduleResult =
  | { result: 'fired'; schedule: StoredSchedule; task: StoredTask }
  | { result: 'skipped'; schedule: StoredSchedule; previousTaskId: string }
  | { result: 'failed'; schedule: StoredSchedule }
  | { result: 'stale' };

/**
 * A task changed, as another server on the same database tells it: enough for the waiter hub to
 * wake claim polls (queued, due at runAt), followers (any change) and task waiters (terminal).
 */
export type TaskChange =
  | {
      taskId: string;
      state: TaskState;
      runAt: number;
      kind: Kind;
      inSession: boolean;
      /** The task has a concurrency key: its leaving `running` frees a slot. */
      keyed?: boolean;
    }
  | { taskId: string; output: true };

export interface StoreChangeListener {
  changed(change: TaskChange): void;
  /** Changes may have been missed (the listening connection was lost and is back): re-check all. */
  resync(): void;
}

/**
 * An optional capability of a store that several servers share (PostgreSQL LISTEN/NOTIFY): the
 * changes other servers commit. A store without it serves one process, which sees its own.
 */
export interface StoreNotifications {
  /** Starts listening on first use; returns the unsubscribe. */
  subscribe(listener: StoreChangeListener): () => void;
}

export interface Store {
  /** Present when other processes may change the same data (see StoreNotifications). */
  readonly notifications?: StoreNotifications;
  /**
   * True when the store itself commits the writes made in one turn of the event loop together
   * (SQLite's write batch): a caller gains nothing by grouping creates first, and waiting a turn
   * to group them would put them in a later commit than the claims and finishes of their turn.
   */
  readonly batchesWrites?: boolean;
  /** Applies pending migrations in order. Safe to call on every start. */
  migrate(): Promise<void>;
  /** Cheap round trip for readiness checks; throws when the store is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;

  createTask(task: NewTask, now: number): Promise<CreateTaskResult>;
  /**
   * createTask for each task, in order, in ONE write transaction (one commit for every create of
   * a busy moment). Each answers on its own: its result, or the error it alone failed with (an
   * idempotency conflict, say), its writes undone without undoing the others'. A task sees the
   * ones before it, so a key repeated within a batch answers with the first one's task.
   */
  createTasks(tasks: readonly NewTask[], now: number): Promise<(CreateTaskResult | Error)[]>;
  getTask(id: string): Promise<StoredTask | undefined>;
  listTasks(filter: TaskFilter): Promise<TaskPage>;
  countTasks(): Promise<StateCounts>;
  /** Queued/scheduled/held → cancelled at once; running → cancel requested. Undefined if unknown. */
  cancelTask(id: string, now: number): Promise<StoredTask | undefined>;
  /** Appends live output of the attempt the lease token fences; undefined when the lease is lost. */
  appendOutput(req: AppendOutputRequest): Promise<AppendOutputResult | undefined>;
  /** Chunks after server seq `after`, oldest first; undefined for an unknown task. */
  readOutput(taskId: string, after: number, limit: number): Promise<LogPage | undefined>;
  /** Every attempt of the task, oldest first. */
  listAttempts(taskId: string): Promise<Attempt[]>;
  /** Records the first read of a finished result; true only for that first read. */
  markResultRead(id: string, now: number): Promise<boolean>;
  /** Finished tasks whose result no client has read yet. */
  countUnreadResults(): Promise<number>;

  /** Leases up to `max` runnable tasks to one runner, each exactly once across all claimers. */
  claimTasks(req: ClaimRequest): Promise<Claim[]>;
  /** Extends live leases held by `runner`; reports lost leases and requested cancels. */
  extendLeases(
    runner: string,
    leases: LeaseRef[],
    leaseMs: number,
    now: number,
  ): Promise<HeartbeatResult>;
  getLease(taskId: string): Promise<LeaseInfo | undefined>;
  /**
   * True when the task ended (a terminal state) by a finish under this lease token: a finish of
   * it sent again is a repeat, not a late result. Leases ended any other way do not count.
   */
  endedUnder(taskId: string, leaseToken: string): Promise<boolean>;
  /**
   * Running (or held) → held: the runner waits for a person's approval, keeping its lease (it
   * heartbeats on; nobody else can claim the task). Holding again replaces the hold and clears
   * its decision. Logs `task.held`. Undefined when the lease no longer holds the task.
   */
  holdAttempt(req: HoldRequest): Promise<StoredTask | undefined>;
  /**
   * Held → running, in the same attempt, recording the approval the runner acted on. Logs
   * `task.resumed`. Undefined when the lease no longer holds the task or it is not held.
   */
  resumeAttempt(
    taskId: string,
    leaseToken: string,
    decision: HoldDecision,
    now: number,
  ): Promise<StoredTask | undefined>;
  /**
   * Records a decision made through the API on a task its runner holds (the last one wins until
   * the runner acts); heartbeats then carry it to the runner, whose policy decides. Logs
   * `task.approved` or `task.rejected`.
   */
  decideHold(taskId: string, decision: HoldDecision, now: number): Promise<DecideResult>;
  /** Ends (or requeues) the attempt fenced by its lease token; undefined means the lease is lost. */
  finishAttempt(req: FinishRequest): Promise<StoredTask | undefined>;
  /**
   * finishAttempt for each request, in order, in ONE transaction (one commit for a runner's batch):
   * each is fenced by its own lease token, and a lost lease is `undefined` in its place without
   * failing the others.
   */
  finishAttempts(reqs: readonly FinishRequest[]): Promise<(StoredTask | undefined)[]>;
  /**
   * Gives back leases that were never delivered (the claiming poll's connection closed first):
   * each task returns to the queue as if it had not been claimed, its attempt not counted.
   */
  releaseLeases(leases: LeaseRef[], now: number): Promise<StoredTask[]>;
  /** Expired leases go back to the queue, or end `lost` when attempts are used up. */
  requeueExpired(now: number, limit: number): Promise<StoredTask[]>;
  /**
   * Pushes every running lease out to at least `until` (never shortens one). A server calls it as
   * it starts: while it was down no runner could heartbeat, so each gets one lease period to
   * reconnect before its work is reaped and run again elsewhere. Returns how many it extended.
   */
  extendRunningLeases(until: number, now: number): Promise<number>;
  /**
   * A runner started again under a new instance id: the leases its earlier instances hold end as
   * if they had expired (requeued, lost or cancelled), at once rather than after the lease runs out.
   */
  releaseInstance(runner: string, instanceId: string, now: number): Promise<StoredTask[]>;

  /** Appends one event (state changes are logged by the store itself, in the same transaction). */
  appendEvent(event: NewEvent, now: number): Promise<StoredEvent>;
  listEvents(filter: EventFilter): Promise<StoredEvent[]>;
  eventStats(): Promise<EventStats>;
  /** One small batch of retention; logs a `retention.pruned` event when it deleted anything. */
  prune(rules: RetentionRules): Promise<PruneResult>;
  /** Gives freed space back to the file system (SQLite VACUUM); slow, for maintenance only. */
  compact(): Promise<void>;

  /** Sessions, most recently used first. */
  listSessions(filter: SessionFilter): Promise<Session[]>;
  /** Forgets the provider session of a key (every agent's when `agent` is undefined). */
  resetSession(key: string, agent: AgentName | undefined, now: number): Promise<Session[]>;
  /**
   * Records the provider session id a running agent turn's CLI printed, on the turn's session, as
   * soon as the runner reports it: a turn whose runner dies still leaves its conversation to
   * resume. Fenced like a finish, by the lease token of the running attempt. Undefined when that
   * lease no longer holds the task; false when the task is not an agent turn with a session key.
   */
  recordTurnSession(
    taskId: string,
    leaseToken: string,
    providerSessionId: string,
    now: number,
  ): Promise<boolean | undefined>;
  /** Points a key at a provider session, creating the session if needed. */
  setProviderSession(
    agent: AgentName,
    key: string,
    providerSessionId: string,
    now: number,
  ): Promise<Session>;
  /** Known provider session ids of an agent starting with `prefix` (sessions and reports). */
  findProviderSessions(agent: AgentName, prefix: string, limit: number): Promise<string[]>;
  sessionStats(activeSince: number): Promise<SessionStats>;
  saveAgentSessionReport(report: AgentSessionReport): Promise<void>;
  listAgentSessionReports(agent: AgentName, runner?: string): Promise<AgentSessionReport[]>;
  /** What a task read shows of its callbacks (never a secret), oldest first. */
  listCallbacks(taskId: string): Promise<CallbackStatus[]>;
  /**
   * Ids of callbacks ready for delivery: their task has ended, they are waiting or part-sent,
   * `nextAt` has come and no live claim holds them. With `taskIds`, only those tasks'.
   */
  findDueCallbacks(now: number, limit: number, taskIds?: readonly string[]): Promise<number[]>;
  /** When the next pending callback of an ended task becomes due (or its claim runs out). */
  nextCallbackDueAt(): Promise<number | undefined>;
  /** Takes a due callback for delivery; logs `callback.dispatched` when an attempt begins. */
  claimCallback(req: CallbackClaimRequest): Promise<ClaimedCallback | undefined>;
  /** Persists how many parts were posted and extends the claim; false when the claim is lost. */
  recordCallbackProgress(req: CallbackProgress): Promise<boolean>;
  /** Ends a delivery attempt; logs `callback.sent` / `callback.failed`. False if the claim is lost. */
  settleCallback(req: CallbackSettlement): Promise<boolean>;
  /**
   * A starting server takes over deliveries a previous process left mid-way (one server per
   * database): every claim is dropped, so they are due again at once. Returns how many.
   */
  releaseCallbackClaims(now: number): Promise<number>;

  /** Stores a new schedule and logs `schedule.created`. */
  createSchedule(schedule: NewSchedule, now: number): Promise<StoredSchedule>;
  getSchedule(id: string): Promise<StoredSchedule | undefined>;
  /** Newest first, by id; `nextCursor` when there is more. */
  listSchedules(filter: ScheduleFilter): Promise<SchedulePage>;
  /** Deletes a schedule (its tasks stay) and logs `schedule.deleted`; false when there was none. */
  deleteSchedule(id: string, now: number): Promise<boolean>;
  /** Schedules whose `nextRunAt` is at or before `now`, earliest first. */
  findDueSchedules(now: number, limit: number): Promise<StoredSchedule[]>;
  /** The earliest `nextRunAt` of any schedule, to arm a timer for. */
  nextScheduleRunAt(): Promise<number | undefined>;
  /**
   * Fires one slot in one transaction: moves `nextRunAt` from `expectedNextRunAt` to the next
   * slot (compare-and-set, so a slot fires once across servers and restarts), then creates the
   * task (with `schedule.fired`), or skips it when overlap is `skip` and the schedule's last task
   * is not terminal (a pruned last task counts as ended) with `schedule.skipped`.
   */
  fireSchedule(req: FireScheduleRequest): Promise<FireScheduleResult>;

  touchRunner(hello: RunnerHello, now: number): Promise<void>;
  /** Moves a known runner's last-seen time forward (claims and heartbeats); unknown names: no-op. */
  markRunnerSeen(name: string, now: number): Promise<void>;
  /** Every runner that said hello, by name, with how many tasks each is running now. */
  listRunners(now: number, onlineWithinMs: number): Promise<RunnerInfo[]>;
  /** How many tasks with this concurrency key are running now. */
  countRunningWithKey(key: string): Promise<number>;

  createToken(token: NewToken, now: number): Promise<TokenInfo>;
  /** The live (unrevoked) token with this hash; also records its use. */
  findToken(hash: string, now: number): Promise<TokenInfo | undefined>;
  listTokens(): Promise<TokenInfo[]>;
  /** Revokes by id or name; false when there was none. */
  revokeToken(idOrName: string, now: number): Promise<boolean>;
  /** Gives a live token (by id or name) a new secret hash; the old secret stops matching. */
  rotateToken(idOrName: string, hash: string, now: number): Promise<TokenInfo | undefined>;
  createEnrollment(enrollment: NewEnrollment, now: number): Promise<void>;
  /**
   * Exchanges a live code (by hash) for a runner token bound to its runner, at most once: the
   * code is marked used and the token created in one transaction.
   */
  redeemEnrollment(
    hash: string,
    token: Omit<NewToken, 'role' | 'runner' | 'name'>,
    now: number,
  ): Promise<RedeemResult>;
}
