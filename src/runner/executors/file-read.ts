// The `file.read` kind: a bounded read of one regular file, as UTF-8 text when it is text and
// base64 otherwise; text also goes to `stdout`, where the legacy API returns file content.
import { isUtf8 } from 'node:buffer';
import { close, constants as fsConstants, fstat, open, read } from 'node:fs';
import { promisify } from 'node:util';
import type { FileReadSpec, Outcome } from '../../protocol/tasks.ts';
import { resolveInRoots } from '../roots.ts';
import { TaskFailure, defineExecutor } from './outcome.ts';
import type { ExecContext } from './types.ts';

const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const closeAsync = promisify(close);
const readAsync = (
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number | null,
): Promise<number> =>
  new Promise((resolve, reject) => {
    read(fd, buffer, offset, length, position, (err, bytesRead) =>
      err ? reject(err) : resolve(bytesRead),
    );
  });

/** Largest single read; a file is read in steps of at most this so a wrong size hint costs little. */
const READ_STEP_BYTES = 1 << 20;

export const executeFileRead = defineExecutor('file.read', readTask);

async function readTask(spec: FileReadSpec, ctx: ExecContext): Promise<Outcome> {
  const path = await resolveInRoots(spec.path, ctx.settings);
  const data = await readFileBounded(path, spec.maxBytes ?? ctx.settings.maxReadBytes, spec.path);
  const encoding = spec.encoding ?? (isUtf8(data) ? 'utf8' : 'base64');
  const content = data.toString(encoding);
  const output = { content, encoding, bytes: data.length };
  return {
    status: 'succeeded',
    exitCode: 0,
    output,
    ...(encoding === 'utf8' ? { stdout: content } : {}),
  };
}

/**
 * Reads a regular file of at most `maxBytes`, else throws a TaskFailure ('too_large', 'io').
 * O_NONBLOCK keeps a FIFO from blocking the open; it is then refused as not a regular file.
 * Plain descriptors rather than a FileHandle: each FileHandle call cost a busy runner several
 * times the system call itself (a quarter of its CPU went to open, fstat, read and close).
 */
export async function readFileBounded(
  path: string,
  maxBytes: number,
  shownPath = path,
): Promise<Buffer> {
  const fd = await openAsync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const info = await fstatAsync(fd);
    if (info.isDirectory())
      throw new TaskFailure('io', `${shownPath} is a directory; use file.list`);
    if (!info.isFile()) throw new TaskFailure('io', `${shownPath} is not a regular file`);
    if (info.size > maxBytes) throw tooLarge(shownPath, `is ${info.size} bytes`, maxBytes);
    return await readUpTo(fd, maxBytes, info.size, shownPath);
  } finally {
    await closeAsync(fd);
  }
}

/** Reads to EOF; the file may have grown since stat, so the limit is checked again while reading. */
async function readUpTo(
  fd: number,
  maxBytes: number,
  sizeHint: number,
  shownPath: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const want = Math.min(Math.max(sizeHint - total, 0) + 1, READ_STEP_BYTES, maxBytes + 1 - total);
    const chunk = Buffer.allocUnsafe(want);
    const bytesRead = await readAsync(fd, chunk, 0, want, null);
    if (bytesRead === 0) return Buffer.concat(chunks, total);
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
    if (total > maxBytes) throw tooLarge(shownPath, 'grew', maxBytes);
  }
}

function tooLarge(path: string, what: string, maxBytes: number): TaskFailure {
  return new TaskFailure('too_large', `${path} ${what}, over the limit of ${maxBytes} bytes`);
}
