// Why a queued task is not running yet, in words, from the runner registry as it is right now.
// Computed on each read and never stored: the answer changes as runners come and go.
import type { RunnerInfo } from '../../protocol/auth.ts';
import type { Task } from '../../protocol/tasks.ts';

export interface WaitFacts {
  /** Every registered runner, with `online` worked out for the time of the read. */
  runners: readonly RunnerInfo[];
  /** Tasks of the task's concurrency key running now (when it has a key). */
  runningWithKey?: number;
}

/**
 * The first thing that keeps the task waiting: its target runner is unknown or offline, no
 * online runner has the labels it requires or runs its kind, or its concurrency key is full.
 * Undefined when a runner that may take it is online (it is busy, or about to claim it).
 * @example describeWait(task, { runners }) // 'waiting for a runner with labels gpu'
 */
export function describeWait(task: Task, facts: WaitFacts): string | undefined {
  return describeRouting(task, facts.runners) ?? describeKeyWait(task, facts.runningWithKey);
}

function describeRouting(task: Task, runners: readonly RunnerInfo[]): string | undefined {
  const name = task.target?.runner;
  let candidates = runners.filter((r) => r.online);
  if (name !== undefined) {
    const named = runners.find((r) => r.name === name);
    if (named === undefined) return `waiting for runner "${name}" (never seen)`;
    if (!named.online) return `waiting for runner "${name}" (offline)`;
    candidates = [named];
  }
  const subject = name === undefined ? 'a runner' : `runner "${name}"`;
  const labels = [...new Set(task.target?.labels ?? [])];
  const withLabels = labels.length === 0 ? '' : ` with labels ${labels.join(', ')}`;
  candidates = candidates.filter((r) => labels.every((l) => r.labels.includes(l)));
  if (candidates.length === 0 && labels.length > 0) return `waiting for ${subject}${withLabels}`;
  if (!candidates.some((r) => r.kinds.includes(task.kind)))
    return `waiting for ${subject}${withLabels} that runs kind ${task.kind}`;
  return undefined;
}

function describeKeyWait(task: Task, running: number | undefined): string | undefined {
  const key = task.concurrency;
  if (key === undefined || running === undefined || running < key.limit) return undefined;
  return `waiting for concurrency key ${key.key} (${running} running)`;
}
