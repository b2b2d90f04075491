// Live output on the wire: the runner appends sequenced chunks of a running attempt's stdout and
// stderr; clients read them back by the server's own sequence, from the start or following.
import { Type, type Static } from 'typebox';

export const OutputStream = Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]);
export type OutputStream = Static<typeof OutputStream>;

/** `utf8` text, or `base64` for bytes that are not valid UTF-8 (kept exactly, never mangled). */
export const ChunkEncoding = Type.Union([Type.Literal('utf8'), Type.Literal('base64')]);
export type ChunkEncoding = Static<typeof ChunkEncoding>;

/** Largest chunk a runner sends: its flush size (64 KiB) as base64, with room to spare. */
export const MAX_CHUNK_CHARS = 128 * 1024;

/** One chunk as the runner sends it. `seq` counts from 1 within one attempt. */
export const OutputChunk = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    stream: OutputStream,
    data: Type.String({ maxLength: MAX_CHUNK_CHARS }),
    encoding: Type.Optional(ChunkEncoding),
  },
  { additionalProperties: false },
);
export type OutputChunk = Static<typeof OutputChunk>;

/** `POST /v1/runner/logs`: fenced by the lease token; a chunk already stored (same seq) is skipped. */
export const AppendOutputBody = Type.Object(
  {
    taskId: Type.String({ minLength: 1, maxLength: 128 }),
    leaseToken: Type.String({ minLength: 1, maxLength: 128 }),
    chunks: Type.Array(OutputChunk, { minItems: 1, maxItems: 64 }),
    /** Bytes of this attempt's output the runner dropped so far (its spool was full). */
    droppedBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type AppendOutputBody = Static<typeof AppendOutputBody>;

export const AppendOutputReply = Type.Object({
  /** The highest runner seq of this attempt the server holds: everything up to it is safe. */
  storedThrough: Type.Integer({ minimum: 0 }),
});
export type AppendOutputReply = Static<typeof AppendOutputReply>;

/** A chunk as clients read it: the server's own per-task `seq` (the `after=` cursor). */
export const LogChunk = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  attempt: Type.Integer(),
  stream: OutputStream,
  data: Type.String(),
  encoding: Type.Optional(ChunkEncoding),
  at: Type.Integer(),
  /** Set on the one marker that stands where output past the cap was left out. */
  omittedBytes: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type LogChunk = Static<typeof LogChunk>;

/** `GET /v1/tasks/:id/logs?after=&wait=`: pass `lastSeq` back as `after` to follow. */
export const LogPage = Type.Object({
  chunks: Type.Array(LogChunk),
  lastSeq: Type.Integer({ minimum: 0 }),
  /** Bytes left out between the kept head and tail, so far. */
  omittedBytes: Type.Integer({ minimum: 0 }),
  /** True once the task has ended and every chunk up to `lastSeq` has been read. */
  done: Type.Boolean(),
});
export type LogPage = Static<typeof LogPage>;
