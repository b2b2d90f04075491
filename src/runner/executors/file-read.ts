// The `file.read` kind: a bounded read of one regular file, as UTF-8 text when it is text and
// base64 otherwise; text also goes to `stdout`, where the legacy API returns file content.
import { isUtf8 } from 'node:buffer';
import { closeSync, constants as fsConstants, fstatSync, openSync, read, readSync } from 'node:fs';
import type { FileReadSpec, Outcome } from '../../protocol/tasks.ts';
import { resolveInRoots } from '../roots.ts';
import { TaskFailure, defineExecutor } from './outcome.ts';
import type { ExecContext } from './types.ts';

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
/** Files up to this size are read synchronously (see readFileBounded). */
const SYNC_READ_BYTES = 64 * 1024;

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
 * Open, fstat, close and the read of a small file are synchronous: on a local file each is a few
 * microseconds, while each asynchronous call is a thread-pool round trip costing a busy runner
 * about 30 µs of CPU (most of a queue-bound task's time). A larger file is read asynchronously,
 * in steps, so a big read does not hold up the event loop.
 */
export async function readFileBounded(
  path: string,
  maxBytes: number,
  shownPath = path,
): Promise<Buffer> {
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const info = fstatSync(fd);
    if (info.isDirectory())
      throw new TaskFailure('io', `${shownPath} is a directory; use file.list`);
    if (!info.isFile()) throw new TaskFailure('io', `${shownPath} is not a regular file`);
    if (info.size > maxBytes) throw tooLarge(shownPath, `is ${info.size} bytes`, maxBytes);
    const readChunk =
      info.size <= SYNC_READ_BYTES
        ? (chunk: Buffer, want: number) => readSync(fd, chunk, 0, want, null)
        : (chunk: Buffer, want: number) => readAsync(fd, chunk, 0, want, null);
    return await readUpTo(readChunk, maxBytes, info.size, shownPath);
  } finally {
    closeSync(fd);
  }
}

/** Reads to EOF; the file may have grown since stat, so the limit is checked again while reading. */
async function readUpTo(
  readChunk: (chunk: Buffer, want: number) => number | Promise<number>,
  maxBytes: number,
  sizeHint: number,
  shownPath: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const want = Math.min(Math.max(sizeHint - total, 0) + 1, READ_STEP_BYTES, maxBytes + 1 - total);
    const chunk = Buffer.allocUnsafe(want);
    const bytesRead = await readChunk(chunk, want);
    if (bytesRead === 0) return Buffer.concat(chunks, total);
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
    if (total > maxBytes) throw tooLarge(shownPath, 'grew', maxBytes);
  }
}

function tooLarge(path: string, what: string, maxBytes: number): TaskFailure {
  return new TaskFailure('too_large', `${path} ${what}, over the limit of ${maxBytes} bytes`);
}
