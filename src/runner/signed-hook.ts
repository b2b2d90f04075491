// The signature step of the admission pipeline: in require-signed mode, a task that fails the
// signature check is refused (with its rule) before the policy is even asked.
import type { Task } from '../protocol/tasks.ts';
import type { RunnerConfig } from './config.ts';
import type { RunnerLog } from './runner-log.ts';
import { ReplayCache } from './replay-cache.ts';
import { checkSignedTask, trustedKeyObjects } from './signed-admission.ts';

export interface SignedRefusal {
  rule: string;
  message: string;
}

/** Returns the refusal, or undefined to let the task go on to the policy. */
export type AdmitSigned = (task: Task) => SignedRefusal | undefined;

export function signedAdmissionFor(
  config: Pick<RunnerConfig, 'signing' | 'dataDir' | 'name' | 'labels'>,
  log: RunnerLog,
): AdmitSigned {
  const settings = config.signing;
  if (settings.mode !== 'require') return () => undefined;
  const keys = trustedKeyObjects(settings);
  let cache: ReplayCache | undefined;
  return (task) => {
    try {
      // Opened at the first task, not at construction: creating a runner touches no disk.
      cache ??= ReplayCache.open(config.dataDir);
      const runner = { name: config.name, labels: config.labels };
      const verdict = checkSignedTask(task, { settings, keys, cache, now: Date.now(), runner });
      if (verdict.ok) return undefined;
      log('warn', 'task refused', { taskId: task.id, rule: verdict.rule, reason: verdict.message });
      return { rule: verdict.rule, message: verdict.message };
    } catch (err) {
      // Fail closed: a nonce that cannot be recorded could be replayed after a restart.
      const message = `could not check the signature: ${err instanceof Error ? err.message : String(err)}`;
      log('error', 'task refused', {
        taskId: task.id,
        rule: 'signing.replay-cache',
        reason: message,
      });
      return { rule: 'signing.replay-cache', message };
    }
  };
}
