// What every agent driver (claude, codex, gemini) provides, and what one CLI run reports: the
// executor is written once against these, each CLI's flags and event format stay in its own file.
import type { AgentName, AgentUsage } from '../../protocol/agents.ts';

/** A runner's settings for one agent CLI, from its config (env, config file, defaults). */
export interface AgentSettings {
  /** The binary: a name looked up on PATH, or a path. */
  path: string;
  /** Where to point the user when the binary is missing, e.g. "CLAUDE_PATH or agents.claude.path". */
  pathSetting: string;
  /** Working directory when the task names none; confined to the roots like any cwd. */
  cwd?: string;
  /** Ordered models for fallback; a task's own model goes first. Empty: the CLI's default. */
  models: readonly string[];
  /** Claude's --permission-mode, Codex's --sandbox, Gemini's --approval-mode. */
  mode?: string;
  /** Appended to every invocation before the prompt, e.g. ['--max-turns', '30']. */
  extraArgs: readonly string[];
  /** Caps a task's own timeout. */
  maxTimeoutMs?: number;
  /** The whole child env allowlist of this agent: the runner's plus the CLI's own names. */
  envAllowlist: readonly string[];
}

/** One invocation of a CLI: the turn to run and how. */
export interface TurnOptions {
  prompt: string;
  model?: string;
  /** Provider session id to continue. */
  resume?: string;
  /** Claude only: the id a fresh session takes (--session-id). */
  newSessionId?: string;
  mode?: string;
  extraArgs: readonly string[];
  /** Codex refuses to run outside a git repository unless told to skip its check. */
  inGitRepo: boolean;
}

/** A progress line for the live log: assistant text, a tool call, or a note. */
export type ProgressItem =
  | { kind: 'text'; text: string; delta?: boolean }
  | { kind: 'tool'; name: string; arg: string }
  | { kind: 'note'; text: string };

/** How the CLI's own events say the turn went (exit code and signals are judged elsewhere). */
export type ReportedStatus = 'success' | 'provider_error' | 'turn_limit' | 'incomplete';

/** What the events of one run told us. */
export interface TurnReport {
  status: ReportedStatus;
  /** The final answer (Claude's result, Codex's last agent_message, Gemini's assembled text). */
  text: string;
  sessionId?: string;
  model?: string;
  turns?: number;
  durationMs?: number;
  costUsd?: number;
  usage?: AgentUsage;
  /** The provider's error text when the events reported one. */
  errorMessage?: string;
}

/** Reads one run's JSON events, one at a time, into progress and finally a report. */
export interface StreamParser {
  accept(event: Record<string, unknown>): ProgressItem[];
  /** The provider session id the events carried so far: known from the first event on. */
  currentSessionId(): string | undefined;
  finish(): TurnReport;
}

export interface AgentDriver {
  readonly name: AgentName;
  /** The arguments after the binary; the prompt is always exactly one element. */
  buildArgs(turn: TurnOptions): string[];
  createParser(): StreamParser;
  /** This CLI's words for "the session you asked to resume does not exist". */
  readonly resumeRejected: RegExp;
  /** Claude: its words for "the pre-assigned id of a new session already has a transcript". */
  readonly sessionTaken?: RegExp;
  /** Exit codes this CLI uses for a refused command line, besides the usage-error messages. */
  readonly badFlagsExitCodes: readonly number[];
  readonly turnLimitExitCodes: readonly number[];
}
