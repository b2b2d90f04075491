// The runner's logger: an injected function; by default JSON lines on stderr (stdout stays free
// for the CLI). Fields never carry the token: callers pass task ids, codes and messages only.
import { AppError } from '../protocol/errors.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type RunnerLog = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** Writes one JSON object per line to stderr. */
export const jsonLineLog: RunnerLog = (level, msg, fields) => {
  process.stderr.write(
    `${JSON.stringify({ at: new Date().toISOString(), level, msg, ...fields })}\n`,
  );
};

/**
 * What OUTPOST_LOG_LEVEL may say: the server's (pino's) levels, so one setting serves both; the
 * runner logs at its four and maps the rest (`trace` shows debug, `fatal` errors, `silent` none).
 */
export const LOG_THRESHOLDS = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
] as const;
export type LogThreshold = (typeof LOG_THRESHOLDS)[number];

const RANK: Record<LogThreshold, number> = {
  trace: 0,
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  fatal: 40,
  silent: 100,
};

/** A logger that passes on only lines at `min` or above. */
export function atLeast(min: LogThreshold, log: RunnerLog = jsonLineLog): RunnerLog {
  return (level, msg, fields) => {
    if (RANK[level] >= RANK[min]) log(level, msg, fields);
  };
}

/** The loggable part of an error: its code (for AppErrors) and message, never a stack of secrets. */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof AppError) return { code: err.code, error: err.message };
  return { error: err instanceof Error ? err.message : String(err) };
}
