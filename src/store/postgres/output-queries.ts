// Live output in the PostgreSQL store. Chunks are appended under the lease token, numbered per
// task, and capped: the first half of the cap is kept as the head, the rest is a tail trimmed from
// its oldest end, and what was trimmed is counted and shown to readers as one marker in the gap.
// The task row is locked (FOR UPDATE) for the append, so two appends to one task take turns.
import type { LogPage, OutputChunk } from '../../protocol/output.ts';
import { byteLength, logPageOf, type ChunkRow, type OutputProgress } from '../log-page.ts';
import type * as S from '../types.ts';
import type { Database, Tx } from './database.ts';

const SQL = {
  fenced: `SELECT attempt, output_seq, output_attempt, output_runner_seq, output_runner_dropped,
      output_head_seq, output_head_bytes, output_tail_bytes, output_omitted_bytes
    FROM tasks WHERE id = $1 AND lease_token = $2 AND state = 'running' FOR UPDATE`,
  insert: `INSERT INTO output_chunks (task_id, seq, attempt, stream, data, encoding, bytes, at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  oldestTail: `SELECT seq, bytes FROM output_chunks WHERE task_id = $1 AND seq > $2
    ORDER BY seq LIMIT 1`,
  drop: 'DELETE FROM output_chunks WHERE task_id = $1 AND seq = $2',
  save: `UPDATE tasks SET output_seq = $2, output_attempt = $3, output_runner_seq = $4,
      output_runner_dropped = $5, output_head_seq = $6, output_head_bytes = $7,
      output_tail_bytes = $8, output_omitted_bytes = $9
    WHERE id = $1`,
  progress: 'SELECT state, output_seq, output_omitted_bytes FROM tasks WHERE id = $1',
  read: `SELECT seq, attempt, stream, data, encoding, at FROM output_chunks
    WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
} as const;

/** The output bookkeeping kept on the task row. */
interface Cursor {
  attempt: number;
  output_seq: number;
  output_attempt: number;
  output_runner_seq: number;
  output_runner_dropped: number;
  output_head_seq: number;
  output_head_bytes: number;
  output_tail_bytes: number;
  output_omitted_bytes: number;
}

/** The task's output bookkeeping while one append runs; saved back at its end. */
interface AppendState {
  attempt: number;
  runnerSeq: number;
  runnerDropped: number;
  seq: number;
  headSeq: number;
  headBytes: number;
  tailBytes: number;
  omittedBytes: number;
  added: number;
}

export class OutputQueries {
  constructor(private readonly db: Database) {}

  append(req: S.AppendOutputRequest): Promise<S.AppendOutputResult | undefined> {
    return this.db.transaction((tx) => this.appendInTx(tx, req));
  }

  private async appendInTx(
    tx: Tx,
    req: S.AppendOutputRequest,
  ): Promise<S.AppendOutputResult | undefined> {
    const row = await tx.row<Cursor>(SQL.fenced, [req.taskId, req.leaseToken]);
    if (row === undefined) return undefined;
    const { attempt } = row;
    const sameAttempt = row.output_attempt === attempt;
    // A new attempt starts its runner seq (and its drop count) from 0 again; seq keeps counting.
    const state: AppendState = {
      attempt,
      runnerSeq: sameAttempt ? row.output_runner_seq : 0,
      runnerDropped: sameAttempt ? row.output_runner_dropped : 0,
      seq: row.output_seq,
      headSeq: row.output_head_seq,
      headBytes: row.output_head_bytes,
      tailBytes: row.output_tail_bytes,
      omittedBytes: row.output_omitted_bytes,
      added: 0,
    };
    const dropped = (req.droppedBytes ?? 0) - state.runnerDropped;
    if (dropped > 0) {
      // Output the runner had to drop is marked where it was lost, and counted with what the cap
      // left out, so readers are told about every missing byte.
      state.runnerDropped += dropped;
      state.omittedBytes += dropped;
      const data = `\n[outpost: ${dropped} bytes of output were dropped by the runner (its spool was full)]\n`;
      await this.storeChunk(tx, req, state, { seq: 0, stream: 'stderr', data });
    }
    for (const chunk of req.chunks) {
      if (chunk.seq <= state.runnerSeq) continue;
      state.runnerSeq = chunk.seq;
      await this.storeChunk(tx, req, state, chunk);
    }
    const s = state;
    await tx.run(SQL.save, [
      req.taskId,
      s.seq,
      s.attempt,
      s.runnerSeq,
      s.runnerDropped,
      s.headSeq,
      s.headBytes,
      s.tailBytes,
      s.omittedBytes,
    ]);
    if (s.added > 0) tx.changes.push({ taskId: req.taskId, output: true });
    return { storedThrough: s.runnerSeq, lastSeq: s.seq, added: s.added };
  }

  /** Stores one chunk in the head while it fits, else in the tail, trimming the tail's oldest. */
  private async storeChunk(
    tx: Tx,
    req: S.AppendOutputRequest,
    state: AppendState,
    chunk: OutputChunk,
  ): Promise<void> {
    const headCap = Math.floor(req.capBytes / 2);
    const tailCap = req.capBytes - headCap;
    state.seq += 1;
    state.added += 1;
    const bytes = byteLength(chunk);
    await this.insert(tx, req, chunk, state, bytes);
    // The head grows while the whole chunk fits and nothing has gone to the tail yet.
    if (state.headSeq === state.seq - 1 && state.headBytes + bytes <= headCap) {
      state.headSeq = state.seq;
      state.headBytes += bytes;
      return;
    }
    state.tailBytes += bytes;
    while (state.tailBytes > tailCap) {
      const oldest = await tx.row<{ seq: number; bytes: number }>(SQL.oldestTail, [
        req.taskId,
        state.headSeq,
      ]);
      if (oldest === undefined) break;
      await tx.run(SQL.drop, [req.taskId, oldest.seq]);
      state.tailBytes -= oldest.bytes;
      state.omittedBytes += oldest.bytes;
    }
  }

  /**
   * PostgreSQL text cannot hold a NUL character, which is valid UTF-8 output: such a chunk is
   * stored as base64, which readers decode to the same bytes.
   */
  private async insert(
    tx: Tx,
    req: S.AppendOutputRequest,
    chunk: OutputChunk,
    state: AppendState,
    bytes: number,
  ): Promise<void> {
    let { data } = chunk;
    let encoding = chunk.encoding ?? 'utf8';
    if (encoding === 'utf8' && data.includes('\u0000')) {
      data = Buffer.from(data, 'utf8').toString('base64');
      encoding = 'base64';
    }
    const params = [
      req.taskId,
      state.seq,
      state.attempt,
      chunk.stream,
      data,
      encoding,
      bytes,
      req.now,
    ];
    await tx.run(SQL.insert, params);
  }

  async read(taskId: string, after: number, limit: number): Promise<LogPage | undefined> {
    const progress = await this.db.row<OutputProgress>(SQL.progress, [taskId]);
    if (progress === undefined) return undefined;
    const rows = await this.db.rows<ChunkRow>(SQL.read, [taskId, after, Math.max(1, limit)]);
    return logPageOf(progress, rows, after, limit);
  }
}
