// Holding one task for a person: tell the server (so it shows `held` with the reason), wait for a
// local or remote decision, the expiry or an abort, record every step in the audit log, and tell
// the pipeline whether the task may now run or what outcome to report instead.
import type { HoldDecision } from '../../protocol/approvals.ts';
import type { HoldBody, ResumeBody } from '../../protocol/runner.ts';
import type { Outcome } from '../../protocol/tasks.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RunnerPolicy } from '../policy/policy.ts';
import type { RunningAttempt } from '../running-attempts.ts';
import { errorFields, type RunnerLog } from '../runner-log.ts';
import type { HeldTask, PendingApprovals } from './pending-approvals.ts';

export interface HoldDeps {
  client: {
    holdTask(body: HoldBody): Promise<unknown>;
    resumeTask(body: ResumeBody): Promise<unknown>;
  };
  pending: PendingApprovals;
  audit: AuditLog;
  log: RunnerLog;
  policy: Pick<RunnerPolicy, 'approvals'>;
}

export interface HoldRequest {
  rule: string;
  reason: string;
  summary: Record<string, unknown>;
}

/** Resolves to undefined when approved (run it now, same attempt), else the outcome to report. */
export async function holdForApproval(
  deps: HoldDeps,
  attempt: RunningAttempt,
  request: HoldRequest,
): Promise<Outcome | undefined> {
  const { task, leaseToken, attempt: number } = attempt.claim;
  const ids = { taskId: task.id, attempt: number };
  const now = Date.now();
  const held: HeldTask = {
    ...ids,
    rule: request.rule,
    reason: request.reason,
    summary: request.summary,
    heldAt: now,
    expiresAt: now + deps.policy.approvals.expireAfterMs,
    taskNonce: task.signature?.nonce ?? null,
  };
  const { rule, reason, expiresAt } = held;
  deps.audit.record({
    ...ids,
    event: 'decision',
    decision: 'held',
    rule,
    message: reason,
    expiresAt,
  });
  deps.log('info', 'task held for approval', { ...ids, rule, expiresAt });
  const waiting = deps.pending.wait(held, attempt.controller.signal);
  // The server only shows the hold; a local approval works even when this report fails.
  await deps.client
    .holdTask({ taskId: task.id, leaseToken, reason, rule, expiresAt })
    .catch((err: unknown) =>
      deps.log('warn', 'could not tell the server the task is held', {
        ...ids,
        ...errorFields(err),
      }),
    );
  const end = await waiting;
  if (end.end === 'aborted') {
    deps.audit.record({ ...ids, event: 'decision', decision: 'cancelled', rule, message: end.why });
    return cancelledOutcome(end.why);
  }
  if (end.end === 'expired') {
    const message = `${refusal(reason)}; approval expired: nobody decided within ${minutes(deps.policy.approvals.expireAfterMs)}`;
    deps.audit.record({ ...ids, event: 'decision', decision: 'expired', rule, message });
    deps.log('warn', 'held task expired unapproved', { ...ids, rule });
    return refusedOutcome(rule, message);
  }
  const { decision } = end;
  if (decision.decision === 'rejected') {
    const why = decision.reason === undefined ? '' : `: ${decision.reason}`;
    const message = `${refusal(reason)}; rejected by ${decision.by}${why}`;
    deps.audit.record({
      ...ids,
      event: 'decision',
      decision: 'rejected',
      rule,
      message,
      by: decision.by,
    });
    deps.log('info', 'held task rejected', { ...ids, by: decision.by });
    return refusedOutcome(rule, message);
  }
  deps.audit.record({ ...ids, event: 'decision', decision: 'approved', rule, by: decision.by });
  deps.log('info', 'held task approved', { ...ids, by: decision.by });
  const recorded: HoldDecision = { ...decision };
  await deps.client
    .resumeTask({ taskId: task.id, leaseToken, decision: recorded })
    .catch((err: unknown) =>
      deps.log('warn', 'could not tell the server the task resumed', {
        ...ids,
        ...errorFields(err),
      }),
    );
  return undefined;
}

/** A refusal is final: the same task would be refused again, so it is never retryable. */
export function refusedOutcome(rule: string, message: string): Outcome {
  return {
    status: 'failed',
    durationMs: 0,
    error: { kind: 'refused', rule, message, retryable: false },
  };
}

function cancelledOutcome(why: string): Outcome {
  return {
    status: 'cancelled',
    durationMs: 0,
    error: {
      kind: 'cancelled',
      message: `cancelled while held for approval: ${why}`,
      retryable: false,
    },
  };
}

function refusal(reason: string): string {
  return `refused by the runner policy: ${reason}`;
}

function minutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}
