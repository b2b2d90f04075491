// One write transaction per turn of the event loop: the hot writes (creates, claims, lease
// acknowledgements, finishes) submitted in one turn commit together (group-commit.ts). A commit
// writes every page its transaction changed to the WAL, and writes of one moment share most pages
// (the newest task and event rows, the sequence, the index leaves they touch), so one commit for
// all of them writes about half the pages that one commit each would (measured with the store
// alone: 44 → 27 pages for four tasks' create, claim, acknowledgement and finish).
//
// Calls submitted `early` (creates) run before the batch's other calls. Calls of one turn came from
// requests that arrived together, so their order is arbitrary anyway; this order lets a claim
// submitted in the same turn as a create lease that task in the same transaction, instead of
// waiting for the create's commit and then committing again.
//
// A call that throws must fail alone, its writes undone and the others' kept. A SAVEPOINT per call
// would do that, but costs every call (SQLite copies each page a call first changes into the
// savepoint's journal): about 9 % of the store's instructions per queue-bound task. Calls rarely
// throw, so the batch first runs every call bare; only if one throws does it roll the whole
// transaction back and run the batch again with each call in a savepoint of its own. Nothing of
// the first run was committed or answered, so it is as if it never ran.
import type Database from 'better-sqlite3';
import { GroupCommit, type ItemResult } from '../group-commit.ts';
import { translateSqliteError, withSqliteRetry } from './sqlite-errors.ts';
import type { Transaction } from './statements.ts';

type Call = () => unknown;
/** Wrapped, so that a call answering `undefined` (a lost lease) is an answer too. */
type Answer = { value: unknown };

interface Item {
  call: Call;
  early: boolean;
  /** The call's own failure answers it as a value (submitItem), not as a rejection. */
  errorAsValue: boolean;
}

export interface SubmitOptions {
  /** Run before the calls of the batch that are not early (creates; see the file comment). */
  early?: boolean;
}

export class WriteBatch {
  private readonly calls: GroupCommit<Item, Answer>;
  /** Early calls submitted whose batch has not run yet. */
  private earlyWaiting = 0;
  /** Every call of a batch bare, in one transaction (see the file comment). */
  private readonly runBare: Transaction<[Item[]], ItemResult<Answer>[]>;
  /** Every call in a savepoint of its own, in one transaction: after a call threw. */
  private readonly runIsolated: Transaction<[Item[]], ItemResult<Answer>[]>;
  /** Runs one call in a SAVEPOINT (a transaction inside the batch's). */
  private readonly isolate: Transaction<[Call], unknown>;

  /**
   * @param db the store's connection. A submitted call may keep its writes in its own
   *   db.transaction() (inside the batch's, a SAVEPOINT) or make them bare: either way a call that
   *   throws undoes its own writes only and fails alone.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    /** Told after each commit (the store's checkpointer counts them). */
    onCommit: () => void = () => undefined,
  ) {
    this.runBare = db.transaction((items: Item[]) =>
      this.runEarlyFirst(items, (item) => this.bare(item.call)),
    );
    this.runIsolated = db.transaction((items: Item[]) =>
      this.runEarlyFirst(items, (item) => this.isolated(item)),
    );
    this.isolate = db.transaction((call: Call) => call());
    // BEGIN IMMEDIATE queues for the write lock up front; while another process holds it the
    // whole batch waits and runs again, none of it having run.
    this.calls = new GroupCommit(async (items: Item[]) => {
      for (const item of items) if (item.early) this.earlyWaiting--;
      const answers = await withSqliteRetry(path, () => this.commit(items));
      onCommit();
      return answers;
    });
  }

  /** Runs `call` in the next batch (after one setImmediate); resolves once that batch committed. */
  async submit<T>(call: () => T, options: SubmitOptions = {}): Promise<T> {
    return (await this.enqueue(call, options, false)).value as T;
  }

  /**
   * submit, for one item of a caller's several: the call's own failure (its writes undone, as
   * submit's) resolves as its Error, so the caller can answer each item in its place. A failure of
   * the whole batch still rejects.
   */
  async submitItem<T>(call: () => T, options: SubmitOptions = {}): Promise<T | Error> {
    return (await this.enqueue(call, options, true)).value as T | Error;
  }

  private enqueue(call: Call, options: SubmitOptions, errorAsValue: boolean): Promise<Answer> {
    const early = options.early === true;
    if (early) this.earlyWaiting++;
    return this.calls.submit({ call, early, errorAsValue });
  }

  /**
   * True while an early call waits for its batch: a call submitted now runs after it, in the same
   * transaction or a later one, and so sees what it writes.
   */
  hasEarlyWaiting(): boolean {
    return this.earlyWaiting > 0;
  }

  /** Commits whatever waits now (the store calls this before it closes). */
  flush(): Promise<void> {
    return this.calls.drain();
  }

  private commit(items: Item[]): ItemResult<Answer>[] {
    try {
      return this.runBare.immediate(items);
    } catch (error) {
      // The bare run rolled back (better-sqlite3 does on a throw); run again, each call isolated.
      if (error instanceof CallThrew) return this.runIsolated.immediate(items);
      throw error;
    }
  }

  /** Answers in submission order; runs the early calls first. */
  private runEarlyFirst(
    items: Item[],
    answer: (item: Item) => ItemResult<Answer>,
  ): ItemResult<Answer>[] {
    const answers: ItemResult<Answer>[] = new Array<ItemResult<Answer>>(items.length);
    items.forEach((item, i) => {
      if (item.early) answers[i] = answer(item);
    });
    items.forEach((item, i) => {
      if (!item.early) answers[i] = answer(item);
    });
    return answers;
  }

  private bare(call: Call): Answer {
    try {
      return { value: call() };
    } catch (error) {
      // A failure that ended the transaction (a full disk, an I/O error) fails the batch as one.
      throw this.db.inTransaction ? new CallThrew() : error;
    }
  }

  private isolated({ call, errorAsValue }: Item): ItemResult<Answer> {
    try {
      return { value: this.isolate(call) };
    } catch (error) {
      // Some failures (a full disk, an I/O error) end the whole transaction: then nothing of the
      // batch may commit, and no later call may run outside it, so the batch fails as one.
      if (!this.db.inTransaction) throw error;
      const translated = translateSqliteError(error, this.path);
      const own = translated instanceof Error ? translated : new Error(String(translated));
      return errorAsValue ? { value: own } : own;
    }
  }
}

/** A call of a bare run threw inside the transaction: roll back and run the batch isolated. */
class CallThrew extends Error {}
