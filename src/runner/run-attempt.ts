// One claimed attempt from start to report: live output, the admission pipeline (which may hold
// it for approval, refuse it or run it), then the outcome reported with retries through outages.
import type { Outcome } from '../protocol/tasks.ts';
import type { OutpostClient } from '../sdk/client.ts';
import type { AdmissionPipeline } from './admission-pipeline.ts';
import { createExecContext } from './attempt-context.ts';
import type { RunnerConfig } from './config.ts';
import type { ExecSettings } from './executors/types.ts';
import { createOutputStreamer, withOutputMetadata } from './output-streamer.ts';
import type { OutcomeReporter } from './outcome-reporter.ts';
import type { RunningAttempt, RunningAttempts } from './running-attempts.ts';
import type { RunnerLog } from './runner-log.ts';

/** How long the last output may hold up the finish; the outcome says how many chunks stayed unsent. */
const OUTPUT_FLUSH_MS = 5_000;

export interface AttemptDeps {
  client: OutpostClient;
  config: Readonly<RunnerConfig>;
  log: RunnerLog;
  settings: ExecSettings;
  pipeline: AdmissionPipeline;
  /** Told when the attempt is done executing, so its slot can take the next task. */
  attempts: Pick<RunningAttempts, 'markReporting'>;
  /** Sends outcomes, batching those that end while a finish is in flight. */
  reporter: OutcomeReporter;
  /** Counts what the runner ran, by outcome status (and `lease_lost`). */
  count(status: string): void;
}

export async function runAttempt(deps: AttemptDeps, attempt: RunningAttempt): Promise<void> {
  const { client, config, log } = deps;
  const output = createOutputStreamer({ client, log, config }, attempt.claim);
  try {
    const ctxDeps = { client, log, retry: config, settings: deps.settings };
    const ctx = createExecContext(ctxDeps, attempt, output);
    const executed = await deps.pipeline.run(attempt, ctx);
    deps.attempts.markReporting(attempt.claim.task.id);
    if (attempt.lost) {
      deps.count('lease_lost');
      return;
    }
    const summary = await output.close(OUTPUT_FLUSH_MS);
    await finishAttempt(deps, attempt, withOutputMetadata(executed, summary));
  } finally {
    output.discard(); // after close a no-op; on a lost lease or a bug it deletes the spool
  }
}

async function finishAttempt(
  deps: AttemptDeps,
  attempt: RunningAttempt,
  outcome: Outcome,
): Promise<void> {
  const { task, leaseToken } = attempt.claim;
  deps.count(outcome.status);
  const result = await deps.reporter.report({ taskId: task.id, leaseToken, outcome });
  deps.log('info', 'task ended', { taskId: task.id, status: outcome.status, report: result });
}
