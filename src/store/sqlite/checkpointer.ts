// WAL checkpoints off the server's thread. A checkpoint copies the pages the WAL holds into the
// database file and fsyncs both; run by the connection that commits (SQLite's auto-checkpoint),
// it stopped the event loop for 80 ms or more every few seconds under load (the fsync of tens of
// MiB of WAL) and set the queue-bound benchmark's p99 (121–145 ms; 32–41 ms without it). Here a
// worker thread with its own connection runs PASSIVE checkpoints, which wait for no reader or
// writer, every `every` commits of the write batch. The store's connection keeps its own
// auto-checkpoint as the backstop: should the worker fall behind or fail, the WAL still stops
// growing at that size. Plain CommonJS in a string, run with `eval`, so the worker depends neither
// on tsx nor on where the bundler put the store's files.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SCRIPT = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('synchronous = NORMAL');
// Never checkpoints on its own: it writes nothing.
db.pragma('wal_autocheckpoint = 0');
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ ok: true, result: db.pragma('wal_checkpoint(PASSIVE)')[0] });
  } catch (error) {
    parentPort.postMessage({ ok: false, error: String(error && error.message || error) });
  }
});
`;

/** What the worker answers to one checkpoint request. */
export interface CheckpointReply {
  ok: boolean;
  /** SQLite's row: busy (1 when it could not start), WAL frames, frames checkpointed. */
  result?: { busy: number; log: number; checkpointed: number };
  error?: string;
}

export interface CheckpointerOptions {
  /** Write-batch commits between two checkpoint requests. */
  every?: number;
  /** Told each reply, and a worker's crash (tests). */
  onReply?: (reply: CheckpointReply) => void;
}

export class Checkpointer {
  private worker: Worker | undefined;
  private commits = 0;
  private busy = false;
  /** Set once the worker crashed or the store closed: the connection's own auto-checkpoint does
   * the work from then. */
  private stopped = false;
  private readonly every: number;

  constructor(
    private readonly path: string,
    private readonly options: CheckpointerOptions = {},
  ) {
    this.every = options.every ?? 300;
  }

  /** Counts one commit; every `every` commits asks the worker (started the first time) for one. */
  committed(): void {
    this.commits += 1;
    if (this.commits < this.every || this.busy || this.stopped) return;
    this.commits = 0;
    this.busy = true;
    this.start().postMessage('checkpoint');
  }

  /** Closes the worker's connection and ends it; the store closes its own after this. */
  async close(): Promise<void> {
    this.stopped = true;
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Held open until it has closed its connection, or the process could exit first.
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SCRIPT, {
      eval: true,
      workerData: { driver, path: this.path },
    });
    // An idle server never waits on its checkpointer to exit.
    worker.unref();
    worker.on('message', (reply: CheckpointReply) => {
      this.busy = false;
      this.options.onReply?.(reply);
    });
    worker.on('error', (error) => {
      this.options.onReply?.({ ok: false, error: error.message });
      this.giveUp();
    });
    this.worker = worker;
    return worker;
  }

  private giveUp(): void {
    this.stopped = true;
    this.busy = false;
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
  }
}
