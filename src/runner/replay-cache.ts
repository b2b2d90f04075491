// The nonces of signed tasks this runner accepted, on local disk so a restart does not forget them.
// A JSON-lines file under the data directory: one line per accepted nonce, appended and fsynced
// before the task starts; compacted (expired lines dropped) at open and as it grows.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

export const REPLAY_CACHE_FILE = 'signed-nonces.jsonl';

interface Entry {
  taskId: string;
  /** After this the nonce's task is refused as expired anyway, so the entry can go. */
  keepUntil: number;
}

export type NonceCheck = 'new' | 'same-task' | 'replayed';

export class ReplayCache {
  private readonly entries = new Map<string, Entry>();
  private appended = 0;

  private constructor(readonly path: string) {}

  /** Loads `<dataDir>/signed-nonces.jsonl` (a torn last line is skipped), dropping expired lines. */
  static open(dataDir: string, now = Date.now()): ReplayCache {
    const cache = new ReplayCache(join(dataDir, REPLAY_CACHE_FILE));
    mkdirSync(dirname(cache.path), { recursive: true, mode: 0o700 });
    let text = '';
    try {
      text = readFileSync(cache.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const line of text.split('\n')) cache.load(line);
    cache.compact(now);
    return cache;
  }

  /**
   * Whether `nonce` (of `keyId`) is new, was seen on this same task (a lease re-delivery: the
   * server runs the next attempt of a task under the same id), or on another task (a replay).
   */
  check(keyId: string, nonce: string, taskId: string): NonceCheck {
    const seen = this.entries.get(cacheKey(keyId, nonce));
    if (!seen) return 'new';
    return seen.taskId === taskId ? 'same-task' : 'replayed';
  }

  /** Records the nonce durably (fsync) before the task may start; throws when it cannot. */
  remember(
    keyId: string,
    nonce: string,
    taskId: string,
    keepUntil: number,
    now = Date.now(),
  ): void {
    const key = cacheKey(keyId, nonce);
    if (this.entries.get(key)?.taskId === taskId) return;
    const fd = openSync(this.path, 'a', 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ key, taskId, keepUntil })}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.entries.set(key, { taskId, keepUntil });
    this.appended += 1;
    if (this.appended > Math.max(1000, this.entries.size)) this.compact(now);
  }

  get size(): number {
    return this.entries.size;
  }

  private load(line: string): void {
    if (line.trim() === '') return;
    try {
      const { key, taskId, keepUntil } = JSON.parse(line) as Record<string, unknown>;
      if (typeof key === 'string' && typeof taskId === 'string' && typeof keepUntil === 'number') {
        this.entries.set(key, { taskId, keepUntil });
      }
    } catch {
      // A line torn by a crash mid-write: its task never started (remember throws first).
    }
  }

  /** Drops expired entries and rewrites the file atomically (temp file, fsync, rename). */
  private compact(now: number): void {
    for (const [key, entry] of this.entries) if (entry.keepUntil < now) this.entries.delete(key);
    const lines = [...this.entries].map(
      ([key, { taskId, keepUntil }]) => `${JSON.stringify({ key, taskId, keepUntil })}\n`,
    );
    const temp = `${this.path}.tmp`;
    writeFileSync(temp, lines.join(''), { mode: 0o600 });
    const fd = openSync(temp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path);
    this.appended = 0;
  }
}

function cacheKey(keyId: string, nonce: string): string {
  return `${keyId}:${nonce}`;
}
