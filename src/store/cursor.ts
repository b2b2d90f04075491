// Opaque list cursors shared by every Store backend: a page ends at a task id, and the next page
// continues below it (lists run newest first, by id).
import { AppError } from '../protocol/errors.ts';

const PREFIX = 'v1:';
// Task ids are UUIDv7 today; allow any short id-like text so a future id format keeps working.
const ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** Encodes the last id of a page; clients treat the result as opaque. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(PREFIX + lastId, 'utf8').toString('base64url');
}

/** Decodes a cursor to the id the next page starts below; a malformed cursor is a `bad_request`. */
export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : '';
  if (!ID_PATTERN.test(id) || encodeCursor(id) !== cursor) {
    throw new AppError('bad_request', 'cursor is invalid');
  }
  return id;
}
