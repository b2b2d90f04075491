// The server's settings: flags > env (OUTPOST_* then legacy aliases) > JSON config file > defaults.
// Called only from the entry point; every problem is reported at once in one AppError.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { AppError } from '../protocol/errors.ts';
import {
  createFieldReader,
  enumField,
  formatConfigProblems,
  daysField,
  intField,
  msField,
  readConfigFile,
  pathField,
  secretField,
  stringField,
  type FieldReader,
} from '../lib/config-fields.ts';
import { readCallbackFields, type CallbackConfig } from './callbacks/callback-config.ts';
import { readLimitFields, type RateLimitConfig, type TlsConfig } from './limits-config.ts';
import { readDatabaseFields, type DatabaseConfig } from './database-config.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerConfig extends CallbackConfig, RateLimitConfig, TlsConfig, DatabaseConfig {
  /** Interface to listen on; loopback by default so nothing is exposed until asked. */
  host: string;
  port: number;
  /** Where the server keeps its database and other state. */
  dataDir: string;
  /** Legacy all-roles token (WORKER_TOKEN); unset means only scoped tokens are accepted. */
  token?: string;
  /** How long a claim is held without a heartbeat before the task is requeued. */
  leaseMs: number;
  /** How often runners are told to heartbeat; under half the lease so one lost beat is survivable. */
  heartbeatMs: number;
  /** Extra lease time for legacy pollers, which never heartbeat. */
  legacyLeaseMarginMs: number;
  /** How often expired leases are looked for. */
  reapIntervalMs: number;
  maxBodyBytes: number;
  /** Live output kept per task: the first half as the head, the last half as a rolling tail. */
  outputCapBytes: number;
  /** Backoff before a failed attempt runs again: doubles per attempt from base, up to max. */
  retryBaseMs: number;
  retryMaxMs: number;
  logLevel: LogLevel;
  /** Finished tasks are deleted this long after they finished, read or not. */
  taskRetentionMs: number;
  /** Finished tasks are deleted this long after a client first read the result. */
  resultRetentionMs: number;
  /** Beyond this many finished tasks, the oldest are deleted. */
  maxFinishedTasks: number;
  /** Events older than this are deleted. */
  eventRetentionMs: number;
  /** Beyond this many events, the oldest are deleted. */
  maxEvents: number;
  /** Agent sessions unused this long are forgotten: their next turn starts a fresh conversation. */
  sessionRetentionMs: number;
  /** How often retention runs. */
  retentionIntervalMs: number;
}

export interface LoadConfigOptions<C> {
  /** Values given on the command line, already typed; they beat every other source. */
  flags?: Partial<C>;
  /** A JSON config file; else env OUTPOST_CONFIG; else none. */
  file?: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * Loads and validates the server config; throws AppError('bad_request') listing every problem.
 * @example const config = loadServerConfig(process.env, { flags: { port: 8080 } });
 */
export function loadServerConfig(
  env: NodeJS.ProcessEnv = process.env,
  opts: LoadConfigOptions<ServerConfig> = {},
): Readonly<ServerConfig> {
  const path = opts.file || env.OUTPOST_CONFIG;
  const loaded = path ? readConfigFile(resolve(path), (p) => readFileSync(p, 'utf8')) : {};
  const reader = createFieldReader<ServerConfig>({ flags: opts.flags, env, file: loaded.file });
  const config = readServerFields(reader);
  checkServerConfig(config, reader);
  const problems = [...(loaded.problem ? [loaded.problem] : []), ...reader.finish()];
  if (problems.length > 0) {
    throw new AppError('bad_request', formatConfigProblems(problems), { problems });
  }
  return Object.freeze(config);
}

function readServerFields(r: FieldReader<ServerConfig>): ServerConfig {
  const place = readPlaceFields(r);
  return {
    ...place,
    ...readDatabaseFields(r, place.dbPath),
    ...readQueueFields(r),
    ...readRetentionFields(r),
    ...readCallbackFields(r),
    ...readLimitFields(r),
  };
}

type PlaceFields = Pick<
  ServerConfig,
  'host' | 'port' | 'dataDir' | 'dbPath' | 'token' | 'logLevel'
>;

/** Where the server listens and keeps its data, and who may talk to it. */
function readPlaceFields(r: FieldReader<ServerConfig>): PlaceFields {
  const path = pathField({ home: homedir(), resolve, allowRelative: true });
  const dataDir = r.read('dataDir', ['OUTPOST_DATA_DIR'], path, join(homedir(), '.outpost'));
  const dbPath = ['OUTPOST_DB', 'WORKER_TASK_DB'];
  const fields: PlaceFields = {
    host: r.read('host', ['OUTPOST_HOST'], stringField(), '127.0.0.1'),
    // 0 asks the OS for a free port (tests, several servers on one machine); the log says which.
    port: r.read('port', ['OUTPOST_PORT', 'WORKER_PORT'], intField(0, 65535), 3456),
    dataDir,
    dbPath: r.read('dbPath', dbPath, path, join(dataDir, 'outpost.db')),
    logLevel: r.read('logLevel', ['OUTPOST_LOG_LEVEL'], enumField(LOG_LEVELS), 'info'),
  };
  // The legacy token had no length rule; 16 characters is the least we accept for a shared secret.
  const token = r.readOptional('token', ['OUTPOST_TOKEN', 'WORKER_TOKEN'], secretField(16));
  return token === undefined ? fields : { ...fields, token };
}

type RetentionFields = Pick<
  ServerConfig,
  | 'taskRetentionMs'
  | 'resultRetentionMs'
  | 'maxFinishedTasks'
  | 'eventRetentionMs'
  | 'sessionRetentionMs'
  | 'maxEvents'
  | 'retentionIntervalMs'
>;

/** Lease, heartbeat and reaping timing, and the request size limit. */
function readQueueFields(
  r: FieldReader<ServerConfig>,
): Omit<
  ServerConfig,
  | keyof PlaceFields
  | keyof RetentionFields
  | keyof CallbackConfig
  | keyof RateLimitConfig
  | keyof TlsConfig
  | 'database'
> {
  const margin = ['OUTPOST_LEGACY_LEASE_MARGIN_MS'];
  return {
    leaseMs: r.read('leaseMs', ['OUTPOST_LEASE_MS'], msField(1000, 10 * MINUTE_MS), 30_000),
    heartbeatMs: r.read(
      'heartbeatMs',
      ['OUTPOST_HEARTBEAT_MS'],
      msField(100, 5 * MINUTE_MS),
      10_000,
    ),
    legacyLeaseMarginMs: r.read('legacyLeaseMarginMs', margin, msField(0, 10 * MINUTE_MS), 30_000),
    reapIntervalMs: r.read(
      'reapIntervalMs',
      ['OUTPOST_REAP_INTERVAL_MS'],
      msField(50, MINUTE_MS),
      1000,
    ),
    // 5 MiB is what the legacy server accepted; old clients send bodies up to that size.
    maxBodyBytes: r.read('maxBodyBytes', ['OUTPOST_MAX_BODY_BYTES'], intField(KiB, GiB), 5 * MiB),
    // 16 MiB holds any build log a person reads whole; past it the head and tail tell the story.
    outputCapBytes: r.read(
      'outputCapBytes',
      ['OUTPOST_OUTPUT_CAP_BYTES'],
      intField(KiB, 4 * GiB),
      16 * MiB,
    ),
    retryBaseMs: r.read('retryBaseMs', ['OUTPOST_RETRY_BASE_MS'], msField(0, HOUR_MS), 1_000),
    retryMaxMs: r.read('retryMaxMs', ['OUTPOST_RETRY_MAX_MS'], msField(0, DAY_MS), 5 * MINUTE_MS),
  };
}

/**
 * How long finished tasks and events are kept. The legacy variables name the same settings; the old
 * server's clamps (a 7-day ceiling on tasks) are gone, so only absurd values are refused.
 */
function readRetentionFields(r: FieldReader<ServerConfig>): RetentionFields {
  const keep = msField(1000, 3650 * DAY_MS);
  const eventDays = { name: 'WORKER_EVENT_RETENTION_DAYS', parse: daysField(1, 3650) };
  const count = intField(1, 1_000_000_000);
  return {
    taskRetentionMs: r.read(
      'taskRetentionMs',
      ['OUTPOST_TASK_RETENTION_MS', 'WORKER_TASK_RETENTION_MS'],
      keep,
      7 * DAY_MS,
    ),
    resultRetentionMs: r.read(
      'resultRetentionMs',
      ['OUTPOST_RESULT_RETENTION_MS', 'WORKER_RESULT_RETENTION_MS'],
      keep,
      DAY_MS,
    ),
    maxFinishedTasks: r.read('maxFinishedTasks', ['OUTPOST_MAX_FINISHED_TASKS'], count, 100_000),
    eventRetentionMs: r.read(
      'eventRetentionMs',
      ['OUTPOST_EVENT_RETENTION_MS', eventDays],
      keep,
      14 * DAY_MS,
    ),
    maxEvents: r.read('maxEvents', ['OUTPOST_MAX_EVENTS', 'WORKER_MAX_EVENTS'], count, 100_000),
    sessionRetentionMs: r.read(
      'sessionRetentionMs',
      ['OUTPOST_SESSION_RETENTION_MS', 'WORKER_SESSION_RETENTION_MS'],
      keep,
      30 * DAY_MS,
    ),
    // A minute keeps the tables near their limits without a busy loop; each run works in batches.
    retentionIntervalMs: r.read(
      'retentionIntervalMs',
      ['OUTPOST_RETENTION_INTERVAL_MS'],
      msField(1000, DAY_MS),
      MINUTE_MS,
    ),
  };
}

/** Cross-field rules, checked only when both fields parsed, so one typo is not reported twice. */
function checkServerConfig(config: ServerConfig, r: FieldReader<ServerConfig>): void {
  if (!r.valid('heartbeatMs', 'leaseMs')) return;
  // A heartbeat under half the lease means one late or lost beat does not cost the lease.
  if (config.heartbeatMs >= config.leaseMs / 2) {
    r.addProblem(
      r.labelOf('heartbeatMs'),
      `must be less than half of leaseMs (${config.leaseMs}), got ${config.heartbeatMs}`,
    );
  }
}

/** True for hosts only this machine can reach: 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1' || h === '0:0:0:0:0:0:0:1') {
    return true;
  }
  const v4 = h.replace(/^::ffff:/, '');
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
  return octets !== null && octets.slice(1).every((o) => Number(o) <= 255);
}
