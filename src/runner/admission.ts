// Admission: the runner's decision, before anything starts, on each task a server handed it.
// A task that breaks the local policy is refused with the rule it broke; whatever the server says.
// A command matching a require-approval rule is held for a person (approvals/hold-for-approval.ts).
import type { AgentSpec } from '../protocol/agents.ts';
import type { Kind, ShellSpec } from '../protocol/tasks.ts';
import { parseTaskSpec } from '../protocol/validate.ts';
import { createEnvMatcher } from './child-env.ts';
import { TaskFailure } from './executors/outcome.ts';
import type { ExecSettings } from './executors/types.ts';
import { createCommandChecker } from './policy/command-rules.ts';
import type { RunnerPolicy } from './policy/policy.ts';
import { resolveInRoots } from './roots.ts';

export type Admission =
  | { decision: 'run'; settings: ExecSettings }
  | { decision: 'refused'; rule: string; message: string }
  /** Runs with `settings` only once a person approves; `reason` says what needs approval. */
  | { decision: 'hold'; rule: string; reason: string; settings: ExecSettings };

export interface AdmissionTask {
  kind: Kind;
  spec: Record<string, unknown>;
  timeoutMs: number;
}

/** Reads only: they may use read-only roots as well. Every other kind needs read-write ones. */
const READ_KINDS: ReadonlySet<Kind> = new Set(['file.read', 'file.list']);

/**
 * Builds the decision function of one policy (command rules compiled once). A `run` decision
 * carries the settings the executor must use: the roots this kind may touch, read-only roots
 * denied to writers, so the executor enforces the same confinement again when it opens the path.
 * @example const admit = createAdmission(policy, settings); const a = await admit(task);
 */
export function createAdmission(
  policy: RunnerPolicy,
  settings: ExecSettings,
): (task: AdmissionTask) => Promise<Admission> {
  const checkCommand = createCommandChecker(policy.commands);
  const taskEnvAllowed = createEnvMatcher(policy.taskEnv);
  const readers = { ...settings, roots: [...policy.roots, ...policy.readOnlyRoots] };
  const writers = { ...settings, deniedPaths: [...settings.deniedPaths, ...policy.readOnlyRoots] };
  const refuse = (rule: string, why: string): Admission => ({
    decision: 'refused',
    rule,
    message: `refused by the runner policy: ${why}`,
  });

  return async ({ kind, spec, timeoutMs }) => {
    if (!policy.kinds.includes(kind)) return refuse('kinds', `kind '${kind}' is not allowed here`);
    if (timeoutMs > policy.maxTimeoutMs) {
      return refuse(
        'maxTimeoutMs',
        `timeout ${timeoutMs} ms is over the maximum ${policy.maxTimeoutMs} ms`,
      );
    }
    const confined = READ_KINDS.has(kind) ? readers : writers;
    const valid = validSpec(kind, spec);
    // A malformed spec runs nothing: the executor fails it as bad_spec without starting a process.
    if (!valid) return { decision: 'run', settings: confined };
    if (kind === 'agent') {
      const { agent } = spec as AgentSpec;
      if (!policy.agents.includes(agent))
        return refuse('agents', `agent '${agent}' is not allowed here`);
    }
    const pathRefusal = await checkPaths(kind, spec, confined, policy);
    if (pathRefusal) return refuse(pathRefusal.rule, pathRefusal.why);
    if (kind === 'shell') {
      const { command, env } = spec as ShellSpec;
      const bad = Object.keys(env ?? {}).find((name) => !taskEnvAllowed(name));
      if (bad !== undefined) return refuse('taskEnv', `a task may not set the variable ${bad}`);
      const verdict = checkCommand(command);
      if (!verdict.ok && verdict.approval) {
        const reason = `the command needs a person's approval (pattern ${verdict.pattern})`;
        return { decision: 'hold', rule: verdict.rule, reason, settings: confined };
      }
      if (!verdict.ok) return refuse(verdict.rule, `the command matches ${verdict.pattern}`);
    }
    return { decision: 'run', settings: confined };
  };
}

function validSpec(kind: Kind, spec: Record<string, unknown>): boolean {
  try {
    parseTaskSpec(kind, spec);
    return true;
  } catch {
    return false;
  }
}

/** The one path a task touches (a file, or a working directory) checked against its roots. */
async function checkPaths(
  kind: Kind,
  spec: Record<string, unknown>,
  confined: ExecSettings,
  policy: RunnerPolicy,
): Promise<{ rule: string; why: string } | undefined> {
  const path = pathOf(kind, spec, confined);
  if (path === undefined) return undefined;
  try {
    await resolveInRoots(path, confined);
    return undefined;
  } catch (err) {
    if (!(err instanceof TaskFailure)) throw err;
    const inReadOnly =
      !READ_KINDS.has(kind) && (await isInside(path, policy.readOnlyRoots, confined.roots));
    return inReadOnly
      ? {
          rule: 'readOnlyRoots',
          why: `${path} is in a read-only root; ${kind} needs a read-write root`,
        }
      : { rule: 'roots', why: err.message };
  }
}

function pathOf(
  kind: Kind,
  spec: Record<string, unknown>,
  confined: ExecSettings,
): string | undefined {
  if (kind === 'shell' || kind === 'agent') {
    // The same defaults as the executors: the agent's own cwd setting, else the first root.
    const agentCwd = kind === 'agent' ? confined.agents[(spec as AgentSpec).agent].cwd : undefined;
    const cwd = typeof spec.cwd === 'string' ? spec.cwd : (agentCwd ?? confined.roots[0]);
    return cwd ?? '.';
  }
  return typeof spec.path === 'string' ? spec.path : undefined;
}

/** Whether `path` (relative paths against the first read-write root) lies in one of `roots`. */
async function isInside(
  path: string,
  roots: readonly string[],
  base: readonly string[],
): Promise<boolean> {
  if (roots.length === 0) return false;
  const absolute = path.startsWith('/') || base[0] === undefined ? path : `${base[0]}/${path}`;
  try {
    await resolveInRoots(absolute, { roots, deniedPaths: [] });
    return true;
  } catch {
    return false;
  }
}
