// The outcome of an agent attempt, from its last run: the final text as stdout (what legacy
// clients read), AgentOutput as output, {agent, sessionId, model} as metadata, and a failure kind.
import type { AgentName, AgentOutput } from '../../protocol/agents.ts';
import type { Outcome } from '../../protocol/tasks.ts';
import { exitCodeOf } from '../executors/shell.ts';
import type { Verdict } from './classify.ts';
import { definedOnly } from './json-lines.ts';
import type { CliRun } from './run-cli.ts';
import type { TurnPlan } from './turn-plan.ts';

export interface AgentOutcomeInput {
  agent: AgentName;
  run: CliRun;
  verdict: Verdict;
  plan: TurnPlan;
  maxOutputBytes: number;
}

export function agentOutcome(input: AgentOutcomeInput): Outcome {
  const { run, verdict, maxOutputBytes } = input;
  const output = agentOutput(input);
  const exitCode = exitCodeOf(run.process);
  const textBytes = Buffer.byteLength(run.report.text);
  const base: Outcome = definedOnly({
    status: 'succeeded' as const,
    exitCode,
    signal: run.process.signal ?? undefined,
    stdout: output.text,
    stderr: run.process.stderr,
    stdoutBytes: textBytes,
    stderrBytes: run.process.stderrBytes,
    truncated: textBytes > maxOutputBytes || run.process.stderrBytes > maxOutputBytes,
    output,
    metadata: definedOnly({ agent: input.agent, sessionId: output.sessionId, model: output.model }),
  });
  if (verdict.kind === 'ok') return base;
  const status =
    verdict.kind === 'timeout'
      ? 'timed_out'
      : verdict.kind === 'cancelled'
        ? 'cancelled'
        : 'failed';
  // A model refusal on the last model, or a refused resume with nothing left to try, is the provider's.
  const again = ['model_refused', 'resume_rejected', 'session_taken'];
  const kind = again.includes(verdict.kind) ? 'provider' : verdict.kind;
  // Agent turns are never retried automatically: the failed one may already have edited files.
  const error = { kind, message: verdict.message, exitCode, retryable: false };
  return { ...base, status, error: definedOnly(error) };
}

function agentOutput({ agent, run, plan, maxOutputBytes }: AgentOutcomeInput): AgentOutput {
  const { report } = run;
  return definedOnly({
    agent,
    text: capText(report.text, maxOutputBytes),
    sessionId: report.sessionId,
    model: report.model ?? plan.model,
    turns: report.turns,
    durationMs: report.durationMs ?? run.runMs,
    costUsd: report.costUsd,
    usage: report.usage,
    resumed: plan.resume !== undefined,
    freshBecause: plan.freshBecause,
    modelsSkipped: plan.modelsSkipped.length > 0 ? [...plan.modelsSkipped] : undefined,
  });
}

/** The answer as kept: whole up to the output cap (like any stdout), else its head and a marker. */
function capText(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  const head = bytes
    .subarray(0, maxBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return `${head}\n[outpost: the answer was ${bytes.length} bytes; only the first ${maxBytes} are kept]\n`;
}
