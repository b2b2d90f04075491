// How one CLI run ended, judged from its process (spawn error, timeout, cancel, signal, exit code),
// its events (result, turn.failed, error) and its stray text, in that order of precedence.
import type { ProcessResult } from '../process.ts';
import { oneLine } from './progress.ts';
import type { AgentDriver, TurnReport } from './types.ts';

/** Failure kinds an agent attempt reports in `outcome.error.kind`; none is retried by the runner. */
export type AgentFailureKind =
  | 'not_found'
  | 'spawn'
  | 'bad_flags'
  | 'provider'
  | 'turn_limit'
  | 'timeout'
  | 'cancelled'
  | 'crashed'
  | 'exit';

/** `resume_rejected`, `session_taken` and `model_refused` lead to another run; the rest end it. */
export type Verdict =
  | { kind: 'ok' }
  | {
      kind: 'resume_rejected' | 'session_taken' | 'model_refused' | AgentFailureKind;
      message: string;
    };

export interface RunFacts {
  driver: AgentDriver;
  binary: string;
  /** Named in the not-found message: where the user fixes the binary path. */
  pathSetting: string;
  process: ProcessResult;
  report: TurnReport;
  /** JSON events seen; none at all means the CLI stopped before it started the turn. */
  events: number;
  /** stdout lines that were not JSON events (warnings, usage text). */
  noise: string;
  resumed: boolean;
  /** The run was given the id its new session must take (Claude's --session-id). */
  newSession: boolean;
  model?: string;
  timeoutMs: number;
}

/** What CLIs print when they refuse their command line (commander, clap, yargs). */
const USAGE_ERROR =
  /unknown option|unknown argument|unexpected argument|invalid value|argument missing|missing required argument|too many arguments|requires --verbose|skip-git-repo-check|^Usage:/im;

/** Provider errors that say this model cannot answer now, so the next model may. */
const MODEL_PROBLEM =
  /not[ _]found|not available|unavailable|not supported|unsupported|does not exist|no access|invalid model|capacity|quota/i;

/**
 * True when a provider error is about the model: an overload, or a refusal that names it.
 * @example isModelRefusal('model: claude-x not found', 'claude-x') // true
 */
export function isModelRefusal(message: string, model: string | undefined): boolean {
  if (/overloaded|issue with the selected model/i.test(message)) return true;
  return model !== undefined && message.includes(model) && MODEL_PROBLEM.test(message);
}

export function classifyRun(facts: RunFacts): Verdict {
  const { process: p, report, driver } = facts;
  const name = driver.name;
  if (p.spawnError) return spawnVerdict(facts);
  if (p.timedOut)
    return { kind: 'timeout', message: `${name} timed out after ${facts.timeoutMs} ms` };
  if (p.cancelled)
    return { kind: 'cancelled', message: `cancelled; ${name} and its processes were stopped` };
  if (p.lost !== undefined)
    return {
      kind: 'crashed',
      message: `lost track of ${name}: ${p.lost}; its processes were stopped`,
    };
  if (p.exitCode === null)
    return { kind: 'crashed', message: `${name} was killed by ${p.signal ?? 'a signal'}` };
  const code = p.exitCode;
  if (code === 0 && report.status === 'success') return { kind: 'ok' };
  const said = [report.errorMessage ?? '', p.stderr, facts.noise].join('\n');
  if (facts.resumed && driver.resumeRejected.test(said))
    return { kind: 'resume_rejected', message: firstMatchingLine(said, driver.resumeRejected) };
  if (facts.newSession && driver.sessionTaken?.test(said))
    return { kind: 'session_taken', message: firstMatchingLine(said, driver.sessionTaken) };
  if (report.status === 'turn_limit' || driver.turnLimitExitCodes.includes(code))
    return { kind: 'turn_limit', message: `${name} reached its turn limit: ${errorText(facts)}` };
  if (driver.badFlagsExitCodes.includes(code) || (facts.events === 0 && USAGE_ERROR.test(said)))
    return { kind: 'bad_flags', message: `${name} refused its arguments: ${errorText(facts)}` };
  if (report.status === 'provider_error') return providerVerdict(facts, report.errorMessage ?? '');
  if (code !== 0)
    return { kind: 'exit', message: `${name} exited with code ${code}: ${errorText(facts)}` };
  return { kind: 'exit', message: `${name} exited without a final result` };
}

function spawnVerdict(facts: RunFacts): Verdict {
  const { code = '', message } = facts.process.spawnError ?? {};
  const what = `${facts.driver.name} CLI`;
  if (code === 'ENOENT')
    return {
      kind: 'not_found',
      message: `${what} not found at '${facts.binary}'; set ${facts.pathSetting}`,
    };
  if (code === 'EACCES')
    return {
      kind: 'not_found',
      message: `${what} at '${facts.binary}' is not executable; set ${facts.pathSetting}`,
    };
  return { kind: 'spawn', message: message ?? `${what} could not be started` };
}

function providerVerdict(facts: RunFacts, message: string): Verdict {
  const kind = isModelRefusal(message, facts.model) ? 'model_refused' : 'provider';
  return { kind, message: `${facts.driver.name} reported an error: ${oneLine(message, 2000)}` };
}

/** The most telling short text of a failed run: the event's error, else stderr, else stdout noise. */
function errorText(facts: RunFacts): string {
  const candidates = [facts.report.errorMessage, facts.process.stderr, facts.noise];
  const text = candidates.find((c) => c !== undefined && c.trim() !== '') ?? 'no error message';
  return oneLine(text, 2000);
}

function firstMatchingLine(text: string, pattern: RegExp): string {
  const line = text.split('\n').find((l) => pattern.test(l)) ?? text;
  return oneLine(line, 500);
}
