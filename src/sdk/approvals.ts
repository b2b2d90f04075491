// The approval methods of OutpostClient: a client approves or rejects a task its runner holds
// (signed with the client's key when it has one), and a runner holds and resumes its own tasks.
import type { Static, TSchema } from 'typebox';
import type { DecideBody, HoldDecisionKind } from '../protocol/approvals.ts';
import { HoldReply, type HoldBody, type ResumeBody } from '../protocol/runner.ts';
import { Task } from '../protocol/tasks.ts';
import type { HttpRequest } from './http.ts';
import { SessionMethods } from './sessions.ts';
import { signApproval, type SigningKey } from './signing.ts';

export interface DecideOptions {
  reason?: string;
  /** Signs the decision with this key (default: the client's `signingKey`, if any). */
  signingKey?: SigningKey;
}

export abstract class ApprovalMethods extends SessionMethods {
  protected abstract override send<S extends TSchema>(
    schema: S,
    req: HttpRequest,
  ): Promise<Static<S>>;
  /** The key tasks are signed with; decisions are signed with it too. */
  protected abstract readonly decisionKey: SigningKey | undefined;
  abstract getTask(id: string): Promise<Task>;

  /**
   * Approves a task its runner holds (`POST /v1/tasks/:id/approve`). The runner acts on it only
   * if its policy allows remote approval, and in signed mode only if a trusted key signed it.
   * @example await client.approveTask(id, { reason: 'reviewed the push' });
   */
  approveTask(id: string, opts: DecideOptions = {}): Promise<Task> {
    return this.decide(id, 'approved', opts);
  }

  /**
   * Rejects a task its runner holds (`POST /v1/tasks/:id/reject`); the runner refuses it.
   * @example await client.rejectTask(id, { reason: 'not today' });
   */
  rejectTask(id: string, opts: DecideOptions = {}): Promise<Task> {
    return this.decide(id, 'rejected', opts);
  }

  /**
   * Runner side: holds a leased task for a person's approval (state `held`, lease kept).
   * @example await client.holdTask({ taskId, leaseToken, reason, rule, expiresAt });
   */
  holdTask(body: HoldBody): Promise<HoldReply> {
    return this.send(HoldReply, { method: 'POST', path: '/v1/runner/hold', body });
  }

  /**
   * Runner side: an approved held task runs now, in the same attempt (state `running`).
   * @example await client.resumeTask({ taskId, leaseToken, decision });
   */
  resumeTask(body: ResumeBody): Promise<HoldReply> {
    return this.send(HoldReply, { method: 'POST', path: '/v1/runner/resume', body });
  }

  private async decide(id: string, decision: HoldDecisionKind, opts: DecideOptions) {
    const body: DecideBody = opts.reason === undefined ? {} : { reason: opts.reason };
    const key = opts.signingKey ?? this.decisionKey;
    if (key !== undefined) {
      // Bound to the held task's nonce: the runner compares it with the task it holds.
      const task = await this.getTask(id);
      const taskNonce = task.signature?.nonce ?? null;
      body.signature = await signApproval(key, { taskId: id, decision, taskNonce });
    }
    const path = `/v1/tasks/${encodeURIComponent(id)}/${decision === 'approved' ? 'approve' : 'reject'}`;
    return this.send(Task, { method: 'POST', path, body });
  }
}
