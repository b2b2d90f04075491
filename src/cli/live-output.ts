// Printing live output: each chunk to the local stream it came from, bytes exactly as the task
// wrote them (base64 chunks decoded), or one JSON line per chunk for scripts.
import type { LogChunk } from '../protocol/output.ts';

export function writeChunk(chunk: LogChunk, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(chunk)}\n`);
    return;
  }
  (chunk.stream === 'stderr' ? process.stderr : process.stdout).write(chunkBytes(chunk));
}

/** The bytes the task wrote, whichever encoding carried them. */
export function chunkBytes(chunk: LogChunk): Buffer {
  return Buffer.from(chunk.data, chunk.encoding === 'base64' ? 'base64' : 'utf8');
}
