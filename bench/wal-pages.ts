// Which B-trees (tables and indexes) each commit in a SQLite WAL file wrote, read from the WAL's
// frame headers and the database's dbstat table. Used by store-mix.ts.
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';

const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

/**
 * One entry per commit still in the WAL of `file`, oldest first: the B-tree of each page the
 * commit wrote ("name (interior)" for an interior page). Frames left from before the WAL last
 * restarted carry old salts and are not read.
 */
export function walPagesByTree(file: string): string[][] {
  const wal = readFileSync(`${file}-wal`);
  const treeOf = pageTrees(file);
  const pageSize = wal.readUInt32BE(8);
  const salt = wal.subarray(16, 24);
  const commits: string[][] = [];
  let current: string[] = [];
  const frameBytes = FRAME_HEADER_BYTES + pageSize;
  for (let at = WAL_HEADER_BYTES; at + frameBytes <= wal.length; at += frameBytes) {
    if (!wal.subarray(at + 8, at + 16).equals(salt)) break;
    const page = wal.readUInt32BE(at);
    current.push(treeOf.get(page) ?? `page ${page} (new)`);
    // The database size in pages, set on a commit's last frame only.
    if (wal.readUInt32BE(at + 4) !== 0) {
      commits.push(current);
      current = [];
    }
  }
  return commits;
}

function pageTrees(file: string): Map<number, string> {
  const reader = new Database(file, { readonly: true });
  try {
    const rows = reader.prepare('SELECT name, pageno, pagetype FROM dbstat').all() as {
      name: string;
      pageno: number;
      pagetype: string;
    }[];
    const trees = new Map<number, string>();
    for (const r of rows)
      trees.set(r.pageno, r.pagetype === 'internal' ? `${r.name} (interior)` : r.name);
    return trees;
  } finally {
    reader.close();
  }
}
