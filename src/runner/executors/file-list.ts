// The `file.list` kind: the entries of one directory with type, size and mtime, sorted by name.
// Symlinks are reported as links (lstat), never followed.
import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileListSpec, Outcome } from '../../protocol/tasks.ts';
import { resolveInRoots } from '../roots.ts';
import { defineExecutor } from './outcome.ts';
import type { ExecContext } from './types.ts';

/** Keeps one outcome a reasonable size; a larger directory is listed in part and says so. */
const MAX_ENTRIES = 10_000;

export interface ListEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mtimeMs: number;
}

export const executeFileList = defineExecutor('file.list', listTask);

async function listTask(spec: FileListSpec, ctx: ExecContext): Promise<Outcome> {
  const path = await resolveInRoots(spec.path, ctx.settings);
  const dirents = await readdir(path, { withFileTypes: true });
  dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const shown = dirents.slice(0, MAX_ENTRIES);
  const entries = await Promise.all(shown.map((d) => describeEntry(path, d)));
  const truncated = dirents.length > shown.length;
  const output = truncated ? { entries, truncated, total: dirents.length } : { entries };
  return { status: 'succeeded', exitCode: 0, output };
}

async function describeEntry(dir: string, dirent: Dirent): Promise<ListEntry> {
  // The entry may vanish between readdir and lstat; it is still listed, with zero size.
  const info = await lstat(join(dir, dirent.name)).catch(() => undefined);
  return {
    name: dirent.name,
    type: entryType(dirent),
    size: info?.size ?? 0,
    mtimeMs: Math.trunc(info?.mtimeMs ?? 0),
  };
}

function entryType(dirent: Dirent): ListEntry['type'] {
  if (dirent.isSymbolicLink()) return 'symlink';
  if (dirent.isDirectory()) return 'dir';
  return dirent.isFile() ? 'file' : 'other';
}
