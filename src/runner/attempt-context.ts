// The ExecContext of one attempt: the task's limits and abort signal, and the channels back to the
// server while it runs — live output, and for an agent turn its session id as soon as it is known.
import type { ExecContext, ExecSettings } from './executors/types.ts';
import type { OutputStreamer } from './output-streamer.ts';
import type { RunningAttempt } from './running-attempts.ts';
import { createTurnSessionReporter, type TurnSessionDeps } from './turn-session-reporter.ts';

export interface AttemptContextDeps extends TurnSessionDeps {
  settings: ExecSettings;
}

/**
 * Builds what the executor of `attempt` sees.
 * @example const ctx = createExecContext({ client, log, retry: config, settings }, attempt, output);
 */
export function createExecContext(
  deps: AttemptContextDeps,
  attempt: RunningAttempt,
  output: OutputStreamer,
): ExecContext {
  const { task, attempt: number } = attempt.claim;
  return {
    taskId: task.id,
    attempt: number,
    timeoutMs: task.timeoutMs,
    signal: attempt.controller.signal,
    settings: deps.settings,
    onOutput: (stream, bytes) => output.write(stream, bytes),
    onSessionId: createTurnSessionReporter(deps, attempt.claim),
  };
}
