// The SQLite Store: one better-sqlite3 connection in WAL mode. Calls are synchronous underneath,
// so each method is atomic within the process; BEGIN IMMEDIATE makes them atomic across processes.
import Database from 'better-sqlite3';
import type { Claim, LeaseRef } from '../../protocol/runner.ts';
import type { RunnerInfo, TokenInfo } from '../../protocol/auth.ts';
import type * as S from '../types.ts';
import { migrateSqlite } from './migrations.ts';
import { TaskQueries } from './task-queries.ts';
import { LeaseQueries } from './lease-queries.ts';
import { RegistryQueries } from './registry-queries.ts';
import { EventLog } from './event-log.ts';
import { AttemptLog } from './attempt-log.ts';
import { RetentionQueries } from './retention-queries.ts';
import type { Attempt } from '../../protocol/tasks.ts';

/**
 * How long a writer waits for another connection's write lock before SQLITE_BUSY. A claim holds
 * the lock for well under a millisecond, so 5 s rides out a WAL checkpoint or a burst of hundreds
 * of writers, yet still fails fast enough for a readiness probe to notice a wedged database.
 */
const BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens (creating if needed) and migrates a SQLite database; `:memory:` works for tests.
 * Migrating on open lets every statement be prepared once, here, against the current schema.
 * @example const store = openSqliteStore('/var/lib/outpost/outpost.db');
 */
export function openSqliteStore(path: string): SqliteStore {
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    configureConnection(db);
    migrateSqlite(db);
    return new SqliteStore(db);
  } catch (error) {
    db.close();
    throw error;
  }
}

function configureConnection(db: Database.Database): void {
  // WAL lets readers (list, fast-path empty claims) run while one writer commits.
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode syncs at checkpoints, not every commit: a power cut may lose the last
  // commits but never corrupts the file, and commits get several times faster.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
}

export class SqliteStore implements S.Store {
  private readonly tasks: TaskQueries;
  private readonly leases: LeaseQueries;
  private readonly registry: RegistryQueries;
  private readonly events: EventLog;
  private readonly attempts: AttemptLog;
  private readonly retention: RetentionQueries;
  private readonly pingStatement: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.events = new EventLog(db);
    this.attempts = new AttemptLog(db);
    this.tasks = new TaskQueries(db, this.events);
    this.leases = new LeaseQueries(db, this.events, this.attempts);
    this.registry = new RegistryQueries(db);
    this.retention = new RetentionQueries(db, this.events);
    this.pingStatement = db.prepare('SELECT 1');
  }

  async migrate(): Promise<void> {
    migrateSqlite(this.db);
  }

  async ping(): Promise<void> {
    this.pingStatement.get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async createTask(task: S.NewTask, now: number): Promise<S.CreateTaskResult> {
    return this.tasks.createTask(task, now);
  }

  async getTask(id: string): Promise<S.StoredTask | undefined> {
    return this.tasks.getTask(id);
  }

  async listTasks(filter: S.TaskFilter): Promise<S.TaskPage> {
    return this.tasks.listTasks(filter);
  }

  async countTasks(): Promise<S.StateCounts> {
    return this.tasks.countTasks();
  }

  async cancelTask(id: string, now: number): Promise<S.StoredTask | undefined> {
    return this.tasks.cancelTask(id, now);
  }

  async listAttempts(taskId: string): Promise<Attempt[]> {
    return this.attempts.list(taskId);
  }

  async markResultRead(id: string, now: number): Promise<boolean> {
    return this.tasks.markResultRead(id, now);
  }

  async countUnreadResults(): Promise<number> {
    return this.tasks.countUnreadResults();
  }

  async claimTasks(req: S.ClaimRequest): Promise<Claim[]> {
    return this.leases.claimTasks(req);
  }

  async extendLeases(
    runner: string,
    leases: LeaseRef[],
    leaseMs: number,
    now: number,
  ): Promise<S.HeartbeatResult> {
    return this.leases.extendLeases(runner, leases, leaseMs, now);
  }

  async getLease(taskId: string): Promise<S.LeaseInfo | undefined> {
    return this.leases.getLease(taskId);
  }

  async finishAttempt(req: S.FinishRequest): Promise<S.StoredTask | undefined> {
    return this.leases.finishAttempt(req);
  }

  async releaseLeases(leases: LeaseRef[], now: number): Promise<S.StoredTask[]> {
    return this.leases.releaseLeases(leases, now);
  }

  async requeueExpired(now: number, limit: number): Promise<S.StoredTask[]> {
    return this.leases.requeueExpired(now, limit);
  }

  async extendRunningLeases(until: number, now: number): Promise<number> {
    return this.leases.extendRunningLeases(until, now);
  }

  async releaseInstance(runner: string, instanceId: string, now: number): Promise<S.StoredTask[]> {
    return this.leases.releaseInstance(runner, instanceId, now);
  }

  async appendEvent(event: S.NewEvent, now: number): Promise<S.StoredEvent> {
    return this.events.append(event, now);
  }

  async listEvents(filter: S.EventFilter): Promise<S.StoredEvent[]> {
    return this.events.list(filter);
  }

  async eventStats(): Promise<S.EventStats> {
    return this.events.stats();
  }

  async prune(rules: S.RetentionRules): Promise<S.PruneResult> {
    return this.retention.prune(rules);
  }

  async compact(): Promise<void> {
    this.retention.compact();
  }

  async touchRunner(hello: S.RunnerHello, now: number): Promise<void> {
    this.registry.touchRunner(hello, now);
  }

  async listRunners(now: number, onlineWithinMs: number): Promise<RunnerInfo[]> {
    return this.registry.listRunners(now, onlineWithinMs);
  }

  async createToken(token: S.NewToken, now: number): Promise<TokenInfo> {
    return this.registry.createToken(token, now);
  }

  async findToken(hash: string, now: number): Promise<TokenInfo | undefined> {
    return this.registry.findToken(hash, now);
  }

  async listTokens(): Promise<TokenInfo[]> {
    return this.registry.listTokens();
  }

  async revokeToken(idOrName: string, now: number): Promise<boolean> {
    return this.registry.revokeToken(idOrName, now);
  }
}
