// Live output in the SQLite store. Chunks are appended under the lease token, numbered per task,
// and capped: the first half of the cap is kept as the head, the rest is a tail trimmed from its
// oldest end, and what was trimmed is counted and shown to readers as one marker in the gap.
import type Database from 'better-sqlite3';
import type { LogPage, OutputChunk } from '../../protocol/output.ts';
import { byteLength, logPageOf, type ChunkRow, type OutputProgress } from '../log-page.ts';
import type * as S from '../types.ts';
import { prepareStatements, type Prepared, type Transaction } from './statements.ts';

const SQL = {
  fenced: `SELECT attempt, output_seq, output_attempt, output_runner_seq, output_runner_dropped,
      output_head_seq,
      output_head_bytes, output_tail_bytes, output_omitted_bytes
    FROM tasks WHERE id = ? AND lease_token = ? AND state = 'running'`,
  insert: `INSERT INTO output_chunks (task_id, seq, attempt, stream, data, encoding, bytes, at)
    VALUES (@taskId, @seq, @attempt, @stream, @data, @encoding, @bytes, @at)`,
  oldestTail: `SELECT seq, bytes FROM output_chunks WHERE task_id = ? AND seq > ?
    ORDER BY seq LIMIT 1`,
  drop: 'DELETE FROM output_chunks WHERE task_id = ? AND seq = ?',
  save: `UPDATE tasks SET output_seq = @seq, output_attempt = @attempt,
      output_runner_seq = @runnerSeq, output_runner_dropped = @runnerDropped,
      output_head_seq = @headSeq, output_head_bytes = @headBytes,
      output_tail_bytes = @tailBytes, output_omitted_bytes = @omittedBytes
    WHERE id = @taskId`,
  progress: 'SELECT state, output_seq, output_omitted_bytes FROM tasks WHERE id = ?',
  read: `SELECT seq, attempt, stream, data, encoding, at FROM output_chunks
    WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
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
  private readonly statements: Prepared<typeof SQL>;
  private readonly appendTx: Transaction<[S.AppendOutputRequest], S.AppendOutputResult | undefined>;

  constructor(db: Database.Database) {
    this.statements = prepareStatements(db, SQL);
    this.appendTx = db.transaction((req: S.AppendOutputRequest) => this.appendInTx(req));
  }

  append(req: S.AppendOutputRequest): S.AppendOutputResult | undefined {
    return this.appendTx.immediate(req);
  }

  private appendInTx(req: S.AppendOutputRequest): S.AppendOutputResult | undefined {
    const row = this.statements.fenced.get(req.taskId, req.leaseToken) as Cursor | undefined;
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
      // Output the runner had to drop (its spool was full) is marked where it was lost, and
      // counted with what the cap left out, so readers are told about every missing byte.
      state.runnerDropped += dropped;
      state.omittedBytes += dropped;
      const data = `\n[outpost: ${dropped} bytes of output were dropped by the runner (its spool was full)]\n`;
      this.storeChunk(req, state, { seq: 0, stream: 'stderr', data });
    }
    for (const chunk of req.chunks) {
      if (chunk.seq <= state.runnerSeq) continue;
      state.runnerSeq = chunk.seq;
      this.storeChunk(req, state, chunk);
    }
    this.statements.save.run({ taskId: req.taskId, ...state });
    return { storedThrough: state.runnerSeq, lastSeq: state.seq, added: state.added };
  }

  /** Stores one chunk in the head while it fits, else in the tail, trimming the tail's oldest. */
  private storeChunk(req: S.AppendOutputRequest, state: AppendState, chunk: OutputChunk): void {
    const headCap = Math.floor(req.capBytes / 2);
    const tailCap = req.capBytes - headCap;
    state.seq += 1;
    state.added += 1;
    const bytes = byteLength(chunk);
    this.insert(req, chunk, state.seq, state.attempt, bytes);
    // The head grows while the whole chunk fits and nothing has gone to the tail yet.
    if (state.headSeq === state.seq - 1 && state.headBytes + bytes <= headCap) {
      state.headSeq = state.seq;
      state.headBytes += bytes;
      return;
    }
    state.tailBytes += bytes;
    while (state.tailBytes > tailCap) {
      const oldest = this.statements.oldestTail.get(req.taskId, state.headSeq) as
        { seq: number; bytes: number } | undefined;
      if (oldest === undefined) break;
      this.statements.drop.run(req.taskId, oldest.seq);
      state.tailBytes -= oldest.bytes;
      state.omittedBytes += oldest.bytes;
    }
  }

  private insert(
    req: S.AppendOutputRequest,
    chunk: OutputChunk,
    seq: number,
    attempt: number,
    bytes: number,
  ): void {
    this.statements.insert.run({
      taskId: req.taskId,
      seq,
      attempt,
      stream: chunk.stream,
      data: chunk.data,
      encoding: chunk.encoding ?? 'utf8',
      bytes,
      at: req.now,
    });
  }

  read(taskId: string, after: number, limit: number): LogPage | undefined {
    const progress = this.statements.progress.get(taskId) as OutputProgress | undefined;
    if (progress === undefined) return undefined;
    const rows = this.statements.read.all(taskId, after, Math.max(1, limit)) as ChunkRow[];
    return logPageOf(progress, rows, after, limit);
  }
}
