// Reading stored output back as a log page, shared by every Store backend: consecutive chunks,
// with one marker standing in for what the per-task cap left out.
import { isTerminal, type TaskState } from '../protocol/tasks.ts';
import type { ChunkEncoding, LogChunk, LogPage, OutputChunk } from '../protocol/output.ts';

/** A stored chunk as both backends read it. */
export interface ChunkRow {
  seq: number;
  attempt: number;
  stream: LogChunk['stream'];
  data: string;
  encoding: ChunkEncoding;
  at: number;
}

/** Where a task's output stands: its newest seq and what the cap left out. */
export interface OutputProgress {
  state: TaskState;
  output_seq: number;
  output_omitted_bytes: number;
}

/** The page of chunks after seq `after` read as `rows` (at most `limit`, oldest first). */
export function logPageOf(
  progress: OutputProgress,
  rows: readonly ChunkRow[],
  after: number,
  limit: number,
): LogPage {
  const omitted = progress.output_omitted_bytes;
  const chunks: LogChunk[] = [];
  let expected = after + 1;
  for (const row of rows) {
    // Seqs are consecutive except where the cap dropped chunks: one marker stands in the gap,
    // numbered as the last dropped seq so a reader's cursor moves past it.
    if (row.seq > expected && omitted > 0)
      chunks.push(marker(row.seq - 1, row.attempt, row.at, omitted));
    chunks.push(chunkFromRow(row));
    expected = row.seq + 1;
  }
  // Read to the end, yet the newest seqs are gone: the cap dropped the end of the tail too.
  const newest = progress.output_seq;
  if (rows.length < limit && expected <= newest && omitted > 0) {
    const last = rows.at(-1);
    chunks.push(marker(newest, last?.attempt ?? 0, last?.at ?? 0, omitted));
  }
  const lastSeq = chunks.at(-1)?.seq ?? Math.min(after, newest);
  const done = isTerminal(progress.state) && lastSeq >= newest;
  return { chunks, lastSeq, omittedBytes: omitted, done };
}

/** The bytes a chunk stands for (decoded when base64), as the cap counts them. */
export function byteLength(chunk: OutputChunk): number {
  return Buffer.byteLength(chunk.data, chunk.encoding === 'base64' ? 'base64' : 'utf8');
}

function chunkFromRow(row: ChunkRow): LogChunk {
  const chunk: LogChunk = {
    seq: row.seq,
    attempt: row.attempt,
    stream: row.stream,
    data: row.data,
    at: row.at,
  };
  if (row.encoding === 'base64') chunk.encoding = 'base64';
  return chunk;
}

function marker(seq: number, attempt: number, at: number, omittedBytes: number): LogChunk {
  const data = `\n[outpost: ${omittedBytes} bytes of output left out here; the head and the tail are kept]\n`;
  return { seq, attempt, stream: 'stderr', data, at, omittedBytes };
}
