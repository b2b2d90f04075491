// What `outpost agent` tells a person besides the answer: the one-line footer naming the session
// to continue, and the lines for a turn that is still waiting. Pure, so tests pin the wording.
import type { AgentName, AgentOutput } from '../protocol/agents.ts';
import type { Task } from '../protocol/tasks.ts';

/** Provider ids are UUID-like; 8 characters tell sessions apart and work as a `--resume` prefix. */
const SHORT_ID_CHARS = 8;

/**
 * `session cli:me · claude 3f2a9c1e · sonnet · 3 turns · $0.0123`, leaving out what the agent
 * did not report; a second line when the old session could not be resumed.
 */
export function formatAgentFooter(key: string, agent: AgentName, output: AgentOutput): string {
  const id = output.sessionId ? output.sessionId.slice(0, SHORT_ID_CHARS) : '(no session id)';
  const parts = [`session ${key}`, `${agent} ${id}`];
  if (output.model) parts.push(formatModel(output.model, output.modelsSkipped));
  if (output.turns !== undefined)
    parts.push(`${output.turns} turn${output.turns === 1 ? '' : 's'}`);
  if (output.costUsd !== undefined) parts.push(formatCost(output.costUsd));
  const footer = parts.join(' · ');
  if (!output.freshBecause) return footer;
  return `${footer}\nnote: the previous session could not be resumed (${output.freshBecause}); this turn started a new one`;
}

function formatModel(model: string, skipped: string[] | undefined): string {
  return skipped?.length ? `${model} (after ${skipped.join(', ')} refused)` : model;
}

/** Dollars with cents, and up to four decimals below a dollar, where turns usually cost. */
export function formatCost(usd: number): string {
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  const text = usd.toFixed(4).replace(/0{1,2}$/, '');
  return `$${text}`;
}

/**
 * The line for a turn's state while it has not started, or undefined for states that need no
 * word (running, ended). `key` names the session whose previous turn a held turn waits for.
 */
export function waitingLine(
  task: Pick<Task, 'state' | 'runAt' | 'waitReason'>,
  key: string,
): string | undefined {
  switch (task.state) {
    case 'held':
      return `waiting for the previous turn of session ${key} to finish…`;
    case 'queued':
      return `${task.waitReason ?? 'waiting for a runner to pick the turn up'}…`;
    case 'scheduled':
      return `scheduled for ${new Date(task.runAt).toISOString()}…`;
    default:
      return undefined;
  }
}
