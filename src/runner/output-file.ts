// The optional local copy of an attempt's whole output (OUTPOST_KEEP_OUTPUT): both streams as the
// task wrote them, in arrival order, so nothing is lost even when the live stream had to drop.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorFields, type RunnerLog } from './runner-log.ts';

export interface OutputFile {
  write(bytes: Buffer, log: RunnerLog): void;
  /** Closes the file; returns its path, or undefined when a write failed (it is incomplete). */
  close(log: RunnerLog): string | undefined;
}

/**
 * Opens `path` for writing (0600, its directory 0700: output may hold secrets). Writes are
 * synchronous so nothing queues in memory behind a slow disk; a failure stops the copy, not the task.
 * @example const file = openOutputFile('/home/me/.outpost/output/t1-1.log');
 */
export function openOutputFile(path: string): OutputFile {
  let fd: number | undefined;
  let failed: unknown;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    fd = openSync(path, 'w', 0o600);
  } catch (err) {
    failed = err;
  }
  return {
    write(bytes, log) {
      if (fd === undefined) return;
      try {
        for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
      } catch (err) {
        log('error', 'cannot write the output file; it stays incomplete', {
          path,
          ...errorFields(err),
        });
        closeSync(fd);
        fd = undefined;
        failed = err;
      }
    },
    close(log) {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      if (failed === undefined) return path;
      log('error', 'the output file is incomplete', { path, ...errorFields(failed) });
      return undefined;
    },
  };
}
