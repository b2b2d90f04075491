// The contract between the runner loop and the executors that do the work of each kind.
import type { AgentName } from '../../protocol/agents.ts';
import type { OutputStream } from '../../protocol/output.ts';
import type { Kind, Outcome } from '../../protocol/tasks.ts';
import type { AgentSettings } from '../agents/types.ts';

/** Settings every executor reads; built once from the runner config. */
export interface ExecSettings {
  /** Directories tasks may work in; file tasks and `cwd` must resolve inside one of them. */
  roots: readonly string[];
  /** Paths no task may touch even inside a root: the runner's own config and data. */
  deniedPaths: readonly string[];
  /** The shell a command string is handed to as one argv element, e.g. ['/bin/sh', '-c']. */
  shell: readonly string[];
  /** Names of environment variables a child inherits from the runner; nothing else passes. */
  envAllowlist: readonly string[];
  /** Cap on each of stdout and stderr kept in the outcome; the rest is counted, not kept. */
  maxOutputBytes: number;
  /** Cap on a file.read result. */
  maxReadBytes: number;
  /** Time between TERM and KILL when a process tree is stopped. */
  killGraceMs: number;
  /** Starts every process tag of this runner, so a restart can find what a killed run left. */
  tagPrefix?: string;
  /** How each agent CLI is run: binary, cwd, models, mode, extra args, env. */
  agents: Readonly<Record<AgentName, AgentSettings>>;
}

export interface ExecContext {
  taskId: string;
  attempt: number;
  timeoutMs: number;
  /** Aborted when the task is cancelled or the runner stops; executors end promptly. */
  signal: AbortSignal;
  settings: ExecSettings;
  /**
   * Live output: every byte a task's process prints, per stream, as it arrives. Executors that
   * run no process (file.*) ignore it; their result is in the outcome alone. `bytes` is valid
   * only during the call (a reused read buffer): copy what must outlive it.
   */
  onOutput?: (stream: OutputStream, bytes: Buffer) => void;
  /**
   * The agent executor calls it with the provider session id as soon as a CLI run prints it
   * (again only when a later run of the attempt, a fresh fallback or another model, prints a
   * different one), so the server keeps the conversation even if the runner dies mid-turn. It
   * must return at once and never throw: it is called from the CLI's output handler.
   */
  onSessionId?: (id: string) => void;
}

/** Runs one task's spec and returns its outcome as data; it never throws for task failures. */
export type Executor = (spec: Record<string, unknown>, ctx: ExecContext) => Promise<Outcome>;

export type ExecutorTable = Partial<Record<Kind, Executor>>;
