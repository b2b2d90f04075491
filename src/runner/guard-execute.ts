// Puts the local policy and the audit log in front of an executor: every task is recorded as
// received, admitted or refused (a refused one never starts), then its start and end are recorded.
import type { Kind, Outcome } from '../protocol/tasks.ts';
import { createAdmission } from './admission.ts';
import { openAuditLog } from './audit/audit-log.ts';
import type { RunnerConfig } from './config.ts';
import type { ExecContext } from './executors/types.ts';
import type { RunnerLog } from './runner-log.ts';

type Execute = (kind: Kind, spec: Record<string, unknown>, ctx: ExecContext) => Promise<Outcome>;

/**
 * Wraps `execute` with admission and audit.
 * @example this.execute = guardExecute(executeTask, config, log, settings);
 */
export function guardExecute(
  execute: Execute,
  config: Pick<RunnerConfig, 'policy' | 'dataDir' | 'token'>,
  log: RunnerLog,
  settings: ExecContext['settings'],
): Execute {
  const admit = createAdmission(config.policy, settings);
  const audit = openAuditLog({ dataDir: config.dataDir, secrets: [config.token], log });
  return async (kind, spec, ctx) => {
    const ids = { taskId: ctx.taskId, attempt: ctx.attempt };
    audit.received({ ...ids, kind, spec });
    const admission = await admit({ kind, spec, timeoutMs: ctx.timeoutMs });
    if (admission.decision === 'refused') {
      const { rule, message } = admission;
      audit.record({ ...ids, event: 'decision', decision: 'refused', rule, message });
      log('warn', 'task refused by the runner policy', { ...ids, rule });
      return refusedOutcome(rule, message);
    }
    audit.record({ ...ids, event: 'decision', decision: 'ran' });
    audit.record({ ...ids, event: 'started' });
    const outcome = await execute(kind, spec, { ...ctx, settings: admission.settings });
    audit.record({ ...ids, event: 'ended', ...endFields(outcome) });
    return outcome;
  };
}

/** A refusal is final: the same task would be refused again, so it is never retryable. */
export function refusedOutcome(rule: string, message: string): Outcome {
  return {
    status: 'failed',
    durationMs: 0,
    error: { kind: 'refused', rule, message, retryable: false },
  };
}

function endFields(outcome: Outcome): Record<string, unknown> {
  const fields: Record<string, unknown> = { status: outcome.status };
  if (outcome.exitCode !== undefined) fields.exitCode = outcome.exitCode;
  if (outcome.error) fields.errorKind = outcome.error.kind;
  if (outcome.durationMs !== undefined) fields.durationMs = outcome.durationMs;
  return fields;
}
