// The one admission pipeline every claimed task passes before anything starts: signature (in
// require-signed mode) → local policy → approval (held for a person when a rule asks). Every
// decision — ran, refused with its rule, held, approved by whom, rejected, expired, a remote
// approval refused, cancelled while held — is appended to the local audit log, then start and end.
import type { Kind, Outcome } from '../protocol/tasks.ts';
import { createAdmission } from './admission.ts';
import { openAuditLog, type AuditLog } from './audit/audit-log.ts';
import { summariseSpec } from './audit/spec-summary.ts';
import type { RunnerConfig } from './config.ts';
import type { ExecContext, ExecSettings } from './executors/types.ts';
import { failedOutcome } from './executors/outcome.ts';
import type { RunnerLog } from './runner-log.ts';
import type { RunningAttempt, RunningAttempts } from './running-attempts.ts';
import { signedAdmissionFor } from './signed-hook.ts';
import { trustedKeyObjects } from './signed-admission.ts';
import { PendingApprovals } from './approvals/pending-approvals.ts';
import { holdForApproval, refusedOutcome, type HoldDeps } from './approvals/hold-for-approval.ts';
import { createRemoteDecisions, type OnDecisions } from './approvals/remote-decisions.ts';

export type Execute = (
  kind: Kind,
  spec: Record<string, unknown>,
  ctx: ExecContext,
) => Promise<Outcome>;

export interface PipelineDeps {
  config: Pick<RunnerConfig, 'policy' | 'dataDir' | 'token' | 'signing' | 'name' | 'labels'>;
  log: RunnerLog;
  settings: ExecSettings;
  client: HoldDeps['client'];
  attempts: RunningAttempts;
  execute: Execute;
}

export interface AdmissionPipeline {
  /** Admits, holds or refuses the attempt's task, and runs it when admitted. Never throws. */
  run(attempt: RunningAttempt, ctx: ExecContext): Promise<Outcome>;
  /** Remote decisions from heartbeat replies. */
  onDecisions: OnDecisions;
  /** The tasks held for approval now (the local approval listener reads them). */
  readonly pending: PendingApprovals;
  close(): void;
}

/**
 * @example const pipeline = createAdmissionPipeline({ config, log, settings, client, attempts, execute });
 */
export function createAdmissionPipeline(deps: PipelineDeps): AdmissionPipeline {
  const { config, log } = deps;
  const audit: AuditLog = openAuditLog({ dataDir: config.dataDir, secrets: [config.token], log });
  const admitSigned = signedAdmissionFor(config, log);
  const admit = createAdmission(config.policy, deps.settings);
  const pending = new PendingApprovals();
  const holdDeps: HoldDeps = { client: deps.client, pending, audit, log, policy: config.policy };
  const keys = config.signing.mode === 'require' ? trustedKeyObjects(config.signing) : new Map();
  const onDecisions = createRemoteDecisions({
    ...holdDeps,
    attempts: deps.attempts,
    signing: config.signing,
    keys,
  });

  const run = async (attempt: RunningAttempt, ctx: ExecContext): Promise<Outcome> => {
    const { task } = attempt.claim;
    const { kind, spec } = task;
    const ids = { taskId: ctx.taskId, attempt: ctx.attempt };
    audit.received({ ...ids, kind, spec });
    const refuse = (rule: string, message: string): Outcome => {
      audit.record({ ...ids, event: 'decision', decision: 'refused', rule, message });
      log('warn', 'task refused', { ...ids, rule });
      return refusedOutcome(rule, message);
    };
    const unsigned = admitSigned(task);
    if (unsigned) return refuse(unsigned.rule, unsigned.message);
    const admission = await admit({ kind, spec, timeoutMs: ctx.timeoutMs });
    if (admission.decision === 'refused') return refuse(admission.rule, admission.message);
    if (admission.decision === 'hold') {
      const { rule, reason } = admission;
      const summary = summariseSpec(kind, spec);
      const instead = await holdForApproval(holdDeps, attempt, { rule, reason, summary });
      if (instead) return instead;
      audit.record({ ...ids, event: 'started' });
    } else
      audit.record({ ...ids, event: 'decision', decision: 'ran' }, { ...ids, event: 'started' });
    const outcome = await executeSafely(deps.execute, kind, spec, {
      ...ctx,
      settings: admission.settings,
    });
    audit.record({ ...ids, event: 'ended', ...endFields(outcome) });
    return outcome;
  };

  return { run, onDecisions, pending, close: () => audit.close() };
}

async function executeSafely(
  execute: Execute,
  kind: Kind,
  spec: Record<string, unknown>,
  ctx: ExecContext,
): Promise<Outcome> {
  try {
    return await execute(kind, spec, ctx);
  } catch (err) {
    const message = `the executor threw: ${err instanceof Error ? err.message : String(err)}`;
    return failedOutcome('internal', message);
  }
}

function endFields(outcome: Outcome): Record<string, unknown> {
  const fields: Record<string, unknown> = { status: outcome.status };
  if (outcome.exitCode !== undefined) fields.exitCode = outcome.exitCode;
  if (outcome.error) fields.errorKind = outcome.error.kind;
  if (outcome.durationMs !== undefined) fields.durationMs = outcome.durationMs;
  return fields;
}
