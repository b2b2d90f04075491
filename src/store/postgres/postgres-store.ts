// The PostgreSQL Store: a pg.Pool shared by every call. Each method is one statement or one
// transaction (database.ts), so it is atomic across every server sharing the database; claims
// and the reaper lock rows with SKIP LOCKED, so replicas never take the same task twice.
import type { Claim, LeaseRef } from '../../protocol/runner.ts';
import type { RunnerInfo, TokenInfo } from '../../protocol/auth.ts';
import type { AgentName, Session } from '../../protocol/agents.ts';
import type { CallbackStatus } from '../../protocol/callbacks.ts';
import type { LogPage } from '../../protocol/output.ts';
import type { Attempt } from '../../protocol/tasks.ts';
import type { HoldDecision } from '../../protocol/approvals.ts';
import type * as S from '../types.ts';
import { Database, type PoolOptions } from './database.ts';
import { translatePostgresError } from './postgres-errors.ts';
import { migratePostgres } from './migrations.ts';
import { EventLog, writePendingEvents } from './event-log.ts';
import { ChangeListener, sendChanges } from './notifications.ts';
import { AttemptLog } from './attempt-log.ts';
import { SessionTurns } from './session-turns.ts';
import { CallbackQueries } from './callback-queries.ts';
import { TaskQueries } from './task-queries.ts';
import { ClaimUndo } from './lease-shared.ts';
import { LeaseQueries } from './lease-queries.ts';
import { HoldQueries } from './hold-queries.ts';
import { ExpiryQueries } from './expiry-queries.ts';
import { RegistryQueries } from './registry-queries.ts';
import { EnrollmentQueries } from './enrollment-queries.ts';
import { RetentionQueries } from './retention-queries.ts';
import { OutputQueries } from './output-queries.ts';
import { SessionQueries } from './session-queries.ts';
import { ScheduleQueries } from './schedule-queries.ts';

export type PostgresStoreOptions = PoolOptions;

/**
 * Opens a pool on a PostgreSQL database (no connection is made until the first call). Call
 * `migrate()` before anything else; it creates `options.schema` when one is named.
 * @example const store = openPostgresStore('postgres://outpost@db/outpost'); await store.migrate();
 */
export function openPostgresStore(url: string, options: PostgresStoreOptions = {}): PostgresStore {
  return new PostgresStore(url, options);
}

export class PostgresStore implements S.Store {
  private readonly db: Database;
  private readonly tasks: TaskQueries;
  private readonly leases: LeaseQueries;
  private readonly holds: HoldQueries;
  private readonly expiry: ExpiryQueries;
  private readonly registry: RegistryQueries;
  private readonly enrollments: EnrollmentQueries;
  private readonly events: EventLog;
  private readonly attempts: AttemptLog;
  private readonly retention: RetentionQueries;
  private readonly output: OutputQueries;
  private readonly sessions: SessionQueries;
  private readonly callbacks: CallbackQueries;
  private readonly turns: SessionTurns;
  private readonly schedules: ScheduleQueries;
  private readonly listener: ChangeListener;
  /** Changes other servers on this database commit: several replicas share one database. */
  readonly notifications: S.StoreNotifications;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly options: PostgresStoreOptions,
  ) {
    // Last in every transaction: events (under their lock), then the notices to other servers.
    this.db = new Database(url, options, async (tx) => {
      await writePendingEvents(tx);
      await sendChanges(tx, this.listener.id);
    });
    this.listener = new ChangeListener(() => this.db.newClient());
    this.notifications = this.listener;
    this.events = new EventLog(this.db);
    this.attempts = new AttemptLog(this.db);
    this.turns = new SessionTurns(this.db);
    this.callbacks = new CallbackQueries(this.db, this.events);
    this.tasks = new TaskQueries(this.db, this.turns, this.callbacks);
    const claims = new ClaimUndo(this.attempts);
    this.leases = new LeaseQueries(this.db, this.attempts, claims, this.turns);
    this.holds = new HoldQueries(this.db);
    this.expiry = new ExpiryQueries(this.db, this.attempts, claims, this.turns);
    this.registry = new RegistryQueries(this.db);
    this.enrollments = new EnrollmentQueries(this.db, this.registry);
    this.retention = new RetentionQueries(this.db, this.events);
    this.output = new OutputQueries(this.db);
    this.sessions = new SessionQueries(this.db);
    this.schedules = new ScheduleQueries(this.db, this.tasks);
  }

  /** Every call goes through here, so driver errors reach callers in clear words. */
  private async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw translatePostgresError(err, this.url);
    }
  }

  migrate(): Promise<void> {
    return this.run(() => migratePostgres(this.db, this.options.schema));
  }

  ping(): Promise<void> {
    return this.run(async () => {
      await this.db.run('SELECT 1');
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    await this.db.close();
  }

  createTask(task: S.NewTask, now: number): Promise<S.CreateTaskResult> {
    return this.run(() => this.tasks.createTask(task, now));
  }

  async createTasks(
    tasks: readonly S.NewTask[],
    now: number,
  ): Promise<(S.CreateTaskResult | Error)[]> {
    const results = await this.run(() => this.tasks.createTasks(tasks, now));
    return results.map((result) => this.translateItem(result));
  }

  /** A batch item's own error, in the same clear words a thrown one would get from run(). */
  private translateItem<T>(result: T | Error): T | Error {
    if (!(result instanceof Error)) return result;
    const translated = translatePostgresError(result, this.url);
    return translated instanceof Error ? translated : result;
  }

  getTask(id: string): Promise<S.StoredTask | undefined> {
    return this.run(() => this.tasks.getTask(id));
  }

  listTasks(filter: S.TaskFilter): Promise<S.TaskPage> {
    return this.run(() => this.tasks.listTasks(filter));
  }

  countTasks(): Promise<S.StateCounts> {
    return this.run(() => this.tasks.countTasks());
  }

  cancelTask(id: string, now: number): Promise<S.StoredTask | undefined> {
    return this.run(() => this.tasks.cancelTask(id, now));
  }

  appendOutput(req: S.AppendOutputRequest): Promise<S.AppendOutputResult | undefined> {
    return this.run(() => this.output.append(req));
  }

  readOutput(taskId: string, after: number, limit: number): Promise<LogPage | undefined> {
    return this.run(() => this.output.read(taskId, after, limit));
  }

  listAttempts(taskId: string): Promise<Attempt[]> {
    return this.run(() => this.attempts.list(taskId));
  }

  markResultRead(id: string, now: number): Promise<boolean> {
    return this.run(() => this.tasks.markResultRead(id, now));
  }

  countUnreadResults(): Promise<number> {
    return this.run(() => this.tasks.countUnreadResults());
  }

  countRunningWithKey(key: string): Promise<number> {
    return this.run(() => this.tasks.countRunningWithKey(key));
  }

  claimTasks(req: S.ClaimRequest): Promise<Claim[]> {
    return this.run(() => this.leases.claimTasks(req));
  }

  extendLeases(
    runner: string,
    leases: LeaseRef[],
    leaseMs: number,
    now: number,
  ): Promise<S.HeartbeatResult> {
    return this.run(() => this.leases.extendLeases(runner, leases, leaseMs, now));
  }

  getLease(taskId: string): Promise<S.LeaseInfo | undefined> {
    return this.run(() => this.leases.getLease(taskId));
  }

  endedUnder(taskId: string, leaseToken: string): Promise<boolean> {
    return this.run(() => this.leases.endedUnder(taskId, leaseToken));
  }

  holdAttempt(req: S.HoldRequest): Promise<S.StoredTask | undefined> {
    return this.run(() => this.holds.holdAttempt(req));
  }

  resumeAttempt(
    taskId: string,
    leaseToken: string,
    decision: HoldDecision,
    now: number,
  ): Promise<S.StoredTask | undefined> {
    return this.run(() => this.holds.resumeAttempt(taskId, leaseToken, decision, now));
  }

  decideHold(taskId: string, decision: HoldDecision, now: number): Promise<S.DecideResult> {
    return this.run(() => this.holds.decideHold(taskId, decision, now));
  }

  finishAttempt(req: S.FinishRequest): Promise<S.StoredTask | undefined> {
    return this.run(() => this.leases.finishAttempt(req));
  }

  finishAttempts(reqs: readonly S.FinishRequest[]): Promise<(S.StoredTask | undefined)[]> {
    return this.run(() => this.leases.finishAttempts(reqs));
  }

  releaseLeases(leases: LeaseRef[], now: number): Promise<S.StoredTask[]> {
    return this.run(() => this.leases.releaseLeases(leases, now));
  }

  requeueExpired(now: number, limit: number): Promise<S.StoredTask[]> {
    return this.run(() => this.expiry.requeueExpired(now, limit));
  }

  extendRunningLeases(until: number, now: number): Promise<number> {
    return this.run(() => this.expiry.extendRunningLeases(until, now));
  }

  releaseInstance(runner: string, instanceId: string, now: number): Promise<S.StoredTask[]> {
    return this.run(() => this.expiry.releaseInstance(runner, instanceId, now));
  }

  appendEvent(event: S.NewEvent, now: number): Promise<S.StoredEvent> {
    return this.run(() => this.db.transaction((tx) => this.events.append(tx, event, now)));
  }

  listEvents(filter: S.EventFilter): Promise<S.StoredEvent[]> {
    return this.run(() => this.events.list(filter));
  }

  eventStats(): Promise<S.EventStats> {
    return this.run(() => this.events.stats());
  }

  prune(rules: S.RetentionRules): Promise<S.PruneResult> {
    return this.run(() => this.retention.prune(rules));
  }

  compact(): Promise<void> {
    return this.run(() => this.retention.compact());
  }

  listSessions(filter: S.SessionFilter): Promise<Session[]> {
    return this.run(() => this.sessions.listSessions(filter));
  }

  resetSession(key: string, agent: AgentName | undefined, now: number): Promise<Session[]> {
    return this.run(() => this.sessions.resetSession(key, agent, now));
  }

  recordTurnSession(
    taskId: string,
    leaseToken: string,
    providerSessionId: string,
    now: number,
  ): Promise<boolean | undefined> {
    return this.run(() => this.turns.recordTurnSession(taskId, leaseToken, providerSessionId, now));
  }

  setProviderSession(agent: AgentName, key: string, id: string, now: number): Promise<Session> {
    return this.run(() => this.sessions.setProviderSession(agent, key, id, now));
  }

  findProviderSessions(agent: AgentName, prefix: string, limit: number): Promise<string[]> {
    return this.run(() => this.sessions.findProviderSessions(agent, prefix, limit));
  }

  sessionStats(activeSince: number): Promise<S.SessionStats> {
    return this.run(() => this.sessions.sessionStats(activeSince));
  }

  saveAgentSessionReport(report: S.AgentSessionReport): Promise<void> {
    return this.run(() => this.sessions.saveAgentSessionReport(report));
  }

  listAgentSessionReports(agent: AgentName, runner?: string): Promise<S.AgentSessionReport[]> {
    return this.run(() => this.sessions.listAgentSessionReports(agent, runner));
  }

  listCallbacks(taskId: string): Promise<CallbackStatus[]> {
    return this.run(() => this.callbacks.list(taskId));
  }

  findDueCallbacks(now: number, limit: number, taskIds?: readonly string[]): Promise<number[]> {
    return this.run(() => this.callbacks.findDue(now, limit, taskIds));
  }

  nextCallbackDueAt(): Promise<number | undefined> {
    return this.run(() => this.callbacks.nextDueAt());
  }

  claimCallback(req: S.CallbackClaimRequest): Promise<S.ClaimedCallback | undefined> {
    return this.run(() => this.callbacks.claim(req));
  }

  recordCallbackProgress(req: S.CallbackProgress): Promise<boolean> {
    return this.run(() => this.callbacks.recordProgress(req));
  }

  settleCallback(req: S.CallbackSettlement): Promise<boolean> {
    return this.run(() => this.callbacks.settle(req));
  }

  releaseCallbackClaims(now: number): Promise<number> {
    return this.run(() => this.callbacks.releaseClaims(now));
  }

  createSchedule(schedule: S.NewSchedule, now: number): Promise<S.StoredSchedule> {
    return this.run(() => this.schedules.create(schedule, now));
  }

  getSchedule(id: string): Promise<S.StoredSchedule | undefined> {
    return this.run(() => this.schedules.get(id));
  }

  listSchedules(filter: S.ScheduleFilter): Promise<S.SchedulePage> {
    return this.run(() => this.schedules.list(filter));
  }

  deleteSchedule(id: string, now: number): Promise<boolean> {
    return this.run(() => this.schedules.delete(id, now));
  }

  findDueSchedules(now: number, limit: number): Promise<S.StoredSchedule[]> {
    return this.run(() => this.schedules.findDue(now, limit));
  }

  nextScheduleRunAt(): Promise<number | undefined> {
    return this.run(() => this.schedules.nextRunAt());
  }

  fireSchedule(req: S.FireScheduleRequest): Promise<S.FireScheduleResult> {
    return this.run(() => this.schedules.fire(req));
  }

  touchRunner(hello: S.RunnerHello, now: number): Promise<void> {
    return this.run(() => this.registry.touchRunner(hello, now));
  }

  markRunnerSeen(name: string, now: number): Promise<void> {
    return this.run(() => this.registry.markRunnerSeen(name, now));
  }

  listRunners(now: number, onlineWithinMs: number): Promise<RunnerInfo[]> {
    return this.run(() => this.registry.listRunners(now, onlineWithinMs));
  }

  createToken(token: S.NewToken, now: number): Promise<TokenInfo> {
    return this.run(() => this.registry.createToken(token, now));
  }

  findToken(hash: string, now: number): Promise<TokenInfo | undefined> {
    return this.run(() => this.registry.findToken(hash, now));
  }

  listTokens(): Promise<TokenInfo[]> {
    return this.run(() => this.registry.listTokens());
  }

  revokeToken(idOrName: string, now: number): Promise<boolean> {
    return this.run(() => this.registry.revokeToken(idOrName, now));
  }

  rotateToken(idOrName: string, hash: string, _now: number): Promise<TokenInfo | undefined> {
    return this.run(() => this.registry.rotateToken(idOrName, hash));
  }

  createEnrollment(enrollment: S.NewEnrollment, now: number): Promise<void> {
    return this.run(() => this.enrollments.create(enrollment, now));
  }

  redeemEnrollment(
    hash: string,
    token: Omit<S.NewToken, 'role' | 'runner' | 'name'>,
    now: number,
  ): Promise<S.RedeemResult> {
    return this.run(() => this.enrollments.redeem(hash, token, now));
  }
}
