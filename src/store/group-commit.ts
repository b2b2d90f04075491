// Group commit (creates in TaskService, every hot write in the SQLite store's write-batch.ts):
// items submitted in the same turn of the event loop leave together in one call of
// `commit` (one store transaction), and each caller gets its own item's answer. The commit, not
// the rows, is most of a small write's cost, so a busy server pays it once per batch.

/** One item's answer from a batch: its result, or the error it alone failed with. */
export type ItemResult<O> = O | Error;

interface Pending<I, O> {
  item: I;
  resolve: (result: O) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<I, O> {
  private queue: Pending<I, O>[] = [];
  private scheduled = false;
  private flight: Promise<void> | undefined;

  /**
   * @param commit stores a batch, answering per item in order; throwing fails the whole batch.
   * @param maxItems the most items one commit takes; the rest leave in the next one.
   */
  constructor(
    private readonly commit: (items: I[]) => Promise<ItemResult<O>[]>,
    private readonly maxItems = 256,
  ) {}

  /**
   * Resolves with the item's result once its batch has committed. The batch leaves after one
   * `setImmediate` (every request read in this I/O turn joins it), or, while a commit is in flight,
   * when that one returns: one transaction at a time, as large as the load makes it.
   */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.flight !== undefined) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Commits everything waiting, and resolves once no batch is in flight (before a close). */
  async drain(): Promise<void> {
    while (this.flight !== undefined || this.queue.length > 0) {
      await (this.flight ?? this.flush());
    }
  }

  private flush(): Promise<void> {
    if (this.flight !== undefined) return this.flight;
    const batch = this.queue.splice(0, this.maxItems);
    if (batch.length === 0) return Promise.resolve();
    this.flight = this.commitBatch(batch);
    return this.flight;
  }

  private async commitBatch(batch: Pending<I, O>[]): Promise<void> {
    try {
      const results = await this.commit(batch.map((p) => p.item));
      batch.forEach((p, i) => settle(p, results[i]));
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.flight = undefined;
      if (this.queue.length > 0) this.schedule();
    }
  }
}

function settle<I, O>(pending: Pending<I, O>, result: ItemResult<O> | undefined): void {
  if (result === undefined) pending.reject(new Error('The batch returned no result for an item'));
  else if (result instanceof Error) pending.reject(result);
  else pending.resolve(result);
}
