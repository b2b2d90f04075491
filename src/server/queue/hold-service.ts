// Approvals on the server: a runner reports that it holds a task for a person, and resumes it once
// approved; a client records a decision through the API. The server only relays: the runner's
// local policy decides whether a remote decision counts (and, in signed mode, checks its signature).
import type { DecideBody, HoldDecision, HoldDecisionKind } from '../../protocol/approvals.ts';
import { AppError } from '../../protocol/errors.ts';
import type { HoldBody, ResumeBody } from '../../protocol/runner.ts';
import type { Clock } from '../../lib/clock.ts';
import type { StoredTask, Store } from '../../store/types.ts';

export class HoldService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly announce: (task: StoredTask) => void,
  ) {}

  async hold(body: HoldBody): Promise<StoredTask> {
    const task = await this.store.holdAttempt({ ...body, now: this.clock.now() });
    return this.changed(task, body.taskId);
  }

  async resume(body: ResumeBody): Promise<StoredTask> {
    const { taskId, leaseToken, decision } = body;
    const task = await this.store.resumeAttempt(taskId, leaseToken, decision, this.clock.now());
    return this.changed(task, taskId);
  }

  /** `by` names the caller's token, so the runner's audit log can say who approved. */
  async decide(
    taskId: string,
    decision: HoldDecisionKind,
    body: DecideBody,
    tokenName: string,
  ): Promise<StoredTask> {
    const now = this.clock.now();
    const recorded: HoldDecision = {
      decision,
      by: `token ${tokenName}`,
      at: now,
      source: 'remote',
      ...(body.reason !== undefined ? { reason: body.reason } : {}),
      ...(body.signature !== undefined ? { signature: body.signature } : {}),
    };
    const result = await this.store.decideHold(taskId, recorded, now);
    if ('refused' in result) {
      if (result.refused === 'not_found')
        throw new AppError('not_found', `Task ${taskId} not found`);
      throw new AppError(
        'conflict',
        `Task ${taskId} is not held for approval by a runner; only a held task can be approved or rejected`,
      );
    }
    this.announce(result.task);
    return result.task;
  }

  private changed(task: StoredTask | undefined, taskId: string): StoredTask {
    if (!task) throw new AppError('lease_lost', `The lease on task ${taskId} is no longer held`);
    this.announce(task);
    return task;
  }
}
