// Decisions made through the server's API reach the runner in heartbeat replies. Each is checked
// against the local policy (and, in signed mode, its signature); an accepted one settles the held
// task, a refused one is audited and the task stays held (the server is told, so it stops relaying).
import type { KeyObject } from 'node:crypto';
import type { HoldDecision } from '../../protocol/approvals.ts';
import type { HoldBody } from '../../protocol/runner.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RunnerPolicy } from '../policy/policy.ts';
import type { RunningAttempts } from '../running-attempts.ts';
import { errorFields, type RunnerLog } from '../runner-log.ts';
import type { SigningSettings } from '../signing-config.ts';
import type { PendingApprovals } from './pending-approvals.ts';
import { checkRemoteDecision } from './verify-approval.ts';

export interface RemoteDecisionDeps {
  client: { holdTask(body: HoldBody): Promise<unknown> };
  pending: PendingApprovals;
  attempts: RunningAttempts;
  audit: AuditLog;
  log: RunnerLog;
  policy: Pick<RunnerPolicy, 'approvals'>;
  signing: SigningSettings;
  keys: ReadonlyMap<string, KeyObject>;
}

export type OnDecisions = (
  decisions: readonly { taskId: string; decision: HoldDecision }[],
) => void;

/** The handler the lease keeper calls with each heartbeat's `decisions`. */
export function createRemoteDecisions(deps: RemoteDecisionDeps): OnDecisions {
  // The server relays a decision at every beat until the runner acts; each is judged once.
  const judged = new Set<string>();
  return (decisions) => {
    for (const { taskId, decision } of decisions) {
      const held = deps.pending.get(taskId);
      const key = `${taskId}\n${decision.decision}\n${decision.at}\n${decision.by}`;
      if (held === undefined || judged.has(key)) continue;
      judged.add(key);
      const verdict = checkRemoteDecision(held, decision, { ...deps, now: Date.now() });
      if (verdict.ok) {
        deps.pending.decide(taskId, {
          decision: decision.decision,
          by: verdict.by,
          source: 'remote',
          at: decision.at,
          ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
        });
        continue;
      }
      const { rule, message, by } = verdict;
      const ids = { taskId, attempt: held.attempt };
      deps.audit.record({
        ...ids,
        event: 'decision',
        decision: 'approval-refused',
        rule,
        message,
        by,
      });
      deps.log('warn', 'remote approval refused; the task stays held', { ...ids, rule, by });
      const leaseToken = deps.attempts.get(taskId)?.claim.leaseToken;
      if (leaseToken === undefined) continue;
      const reason = `${held.reason}; a remote approval by ${by} was refused (${rule}: ${message})`;
      const body = {
        taskId,
        leaseToken,
        rule: held.rule,
        expiresAt: held.expiresAt,
        refusedAt: decision.at,
      };
      deps.client
        .holdTask({ ...body, reason: reason.slice(0, 2000) })
        .catch((err: unknown) =>
          deps.log('warn', 'could not update the hold', { ...ids, ...errorFields(err) }),
        );
    }
  };
}
