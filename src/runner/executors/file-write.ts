// The `file.write` kind and the atomic write it shares with `file.edit`: a temp file in the same
// directory, fsync, then rename, so a reader sees the old content or the new, never half of it.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileWriteSpec, Outcome } from '../../protocol/tasks.ts';
import { resolveInRoots } from '../roots.ts';
import { TaskFailure, defineExecutor, isErrno } from './outcome.ts';
import type { ExecContext } from './types.ts';

/** Keeps the temp name under NAME_MAX (255) whatever the target's name length. */
const TEMP_NAME_PREFIX_CHARS = 100;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export const executeFileWrite = defineExecutor('file.write', writeTask);

async function writeTask(spec: FileWriteSpec, ctx: ExecContext): Promise<Outcome> {
  const path = await resolveInRoots(spec.path, ctx.settings);
  const data = decodeContent(spec.content, spec.encoding ?? 'utf8');
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, data);
  return { status: 'succeeded', exitCode: 0, output: { bytes: data.length, path } };
}

/** Buffer.from(…, 'base64') skips bad characters silently; a corrupted upload must fail instead. */
function decodeContent(content: string, encoding: 'utf8' | 'base64'): Buffer {
  if (encoding === 'utf8') return Buffer.from(content, 'utf8');
  const compact = content.replace(/\s+/g, '');
  if (!BASE64.test(compact) || compact.length % 4 === 1) {
    throw new TaskFailure('bad_spec', 'spec.content is not valid base64');
  }
  return Buffer.from(compact, 'base64');
}

/**
 * Replaces `path` whole with `data`, keeping the mode of an existing file.
 * @example await writeFileAtomic('/home/me/notes.md', Buffer.from('hi'));
 */
export async function writeFileAtomic(path: string, data: Buffer): Promise<void> {
  const mode = await existingMode(path);
  const prefix = basename(path).slice(0, TEMP_NAME_PREFIX_CHARS);
  const temp = join(dirname(path), `.${prefix}.${randomBytes(6).toString('hex')}.outpost-tmp`);
  try {
    await writeSynced(temp, data, mode);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

async function writeSynced(temp: string, data: Buffer, mode: number | undefined): Promise<void> {
  // 'wx' fails if the name exists, so a planted file or symlink at the temp name is never followed.
  const handle = await open(temp, 'wx', 0o666);
  try {
    await handle.writeFile(data);
    if (mode !== undefined) await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function existingMode(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new TaskFailure('io', `${path} is a directory`);
    return info.mode & 0o7777;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
