// Live output: runners append chunks under their lease; clients read them by the server's seq,
// waiting for more when they are caught up. Woken by the append itself, never by a timer.
import { AppError } from '../../protocol/errors.ts';
import type { AppendOutputBody, AppendOutputReply, LogPage } from '../../protocol/output.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../../store/types.ts';
import { watchKey, type WaiterHub, type WaitSignal } from './waiters.ts';

export class OutputService {
  constructor(
    private readonly store: Store,
    private readonly hub: WaiterHub,
    private readonly clock: Clock,
    /** Bytes of output kept per task (head and tail halves). */
    private readonly capBytes: number,
  ) {}

  async append(body: AppendOutputBody): Promise<AppendOutputReply> {
    const now = this.clock.now();
    const result = await this.store.appendOutput({ ...body, capBytes: this.capBytes, now });
    if (result === undefined) {
      if ((await this.store.getTask(body.taskId)) === undefined)
        throw new AppError('not_found', `Task ${body.taskId} not found`);
      throw new AppError('lease_lost', `The lease on task ${body.taskId} is no longer held`);
    }
    if (result.added > 0) this.hub.notify(watchKey(body.taskId));
    return { storedThrough: result.storedThrough };
  }

  /**
   * Chunks after `after`. When there are none yet and the task is still going, holds up to
   * `waitMs` for the next append or the task's end.
   */
  async read(
    taskId: string,
    after: number,
    opts: { waitMs: number; limit: number; signal?: WaitSignal },
  ): Promise<LogPage> {
    const deadline = this.clock.now() + opts.waitMs;
    for (;;) {
      const sub = this.hub.subscribe(watchKey(taskId));
      try {
        const page = await this.store.readOutput(taskId, after, opts.limit);
        if (page === undefined) throw new AppError('not_found', `Task ${taskId} not found`);
        const remaining = deadline - this.clock.now();
        if (page.chunks.length > 0 || page.done || remaining <= 0) return page;
        if (!(await sub.wait(remaining, opts.signal))) return page;
      } finally {
        sub.dispose();
      }
    }
  }
}
