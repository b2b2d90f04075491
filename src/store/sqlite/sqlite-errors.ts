// What SQLite failures mean to a caller: a busy database is waited for (off the event loop), and
// a locked, read-only, full or failing one becomes `unavailable` with a message a person can act
// on, never the driver's raw text.
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../../protocol/errors.ts';

/** How long one statement may block the event loop waiting for another process's lock. */
export const BUSY_TIMEOUT_MS = 20;
/** How long a call keeps retrying a busy database before it gives up with `unavailable`. */
const BUSY_DEADLINE_MS = 5_000;

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

const BUSY = /^SQLITE_(BUSY|LOCKED)/;
const isBusy = (err: unknown): boolean => BUSY.test(codeOf(err));

/** What each family of SQLite result codes means for the person reading the error. */
const REASONS: readonly [RegExp, string][] = [
  [BUSY, 'is locked by another process'],
  [/^SQLITE_READONLY/, 'cannot be written (read-only file or directory)'],
  [/^SQLITE_FULL/, 'is on a full disk'],
  [/^SQLITE_CANTOPEN/, 'cannot be opened (check that the directory exists and is writable)'],
  [/^SQLITE_IOERR/, 'hit an I/O error'],
  [/^SQLITE_(CORRUPT|NOTADB)/, 'is damaged or not an Outpost database'],
];

/** A driver error as the AppError callers should see; anything else is returned unchanged. */
export function translateSqliteError(err: unknown, path: string): unknown {
  const code = codeOf(err);
  const reason = REASONS.find(([pattern]) => pattern.test(code))?.[1];
  if (reason === undefined) return err;
  return new AppError('unavailable', `The database ${path} ${reason}; try again later`, {
    sqlite: code,
  });
}

/**
 * Runs one store call. While another process holds the write lock, SQLite waits at most
 * BUSY_TIMEOUT_MS inside the call (blocking the event loop); past that, this waits on a timer
 * and tries again, so other requests are served meanwhile, until BUSY_DEADLINE_MS.
 */
export async function withSqliteRetry<T>(path: string, call: () => T): Promise<T> {
  const deadline = Date.now() + BUSY_DEADLINE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return call();
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw translateSqliteError(err, path);
      await sleep(Math.min(100, 5 * attempt) * (0.5 + Math.random() / 2));
    }
  }
}
