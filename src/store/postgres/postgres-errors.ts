// What PostgreSQL failures mean to a caller: an unreachable or overloaded server becomes
// `unavailable` with a message a person can act on (never the password in the URL), and text
// PostgreSQL cannot store becomes `bad_request`.
import { AppError } from '../../protocol/errors.ts';

export function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** Network errors from Node, and SQLSTATE classes 08 (connection), 53 (resources), 57P (shutdown). */
const UNREACHABLE =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|08...|53...|57P0[1-3])$/;
const TERMINATED =
  /Connection terminated|connection timeout|Client has encountered a connection error/i;

/** The URL as safe to show: scheme, host, port and database, without credentials. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'postgres://…';
  }
}

/** A driver error as the AppError callers should see; anything else is returned unchanged. */
export function translatePostgresError(err: unknown, url: string): unknown {
  if (err instanceof AppError) return err;
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (UNREACHABLE.test(code) || (code === '' && TERMINATED.test(message))) {
    return new AppError(
      'unavailable',
      `The database ${shownUrl(url)} is unreachable (${code || message}); try again later`,
      { postgres: code || undefined },
    );
  }
  // 22P05: "\u0000" in JSON; 22021: a NUL byte in text. PostgreSQL stores neither.
  if (code === '22P05' || code === '22021') {
    return new AppError('bad_request', 'Text with a NUL character (\\u0000) cannot be stored', {
      postgres: code,
    });
  }
  return err;
}
