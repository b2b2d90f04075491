// Following one agent turn from a terminal: a word while it waits (held behind its session's
// previous turn, or for a runner), progress on stderr, the answer alone on stdout (so it pipes
// cleanly), then the footer naming the session.
import type { AgentName } from '../protocol/agents.ts';
import type { LogChunk } from '../protocol/output.ts';
import type { Task } from '../protocol/tasks.ts';
import type { OutpostClient } from '../sdk/index.ts';
import { formatAgentFooter, waitingLine } from './agent-footer.ts';
import { followTask, type FollowClient } from './follow-task.ts';
import { chunkBytes } from './live-output.ts';
import { exitCodeOf, printJson } from './output.ts';
import { watchWaiting } from './wait-notice.ts';

type TurnClient = FollowClient & Pick<OutpostClient, 'getTask'>;

export interface TurnView {
  agent: AgentName;
  /** The session key, for the waiting line and the footer. */
  key: string;
  /** Print the finished task as JSON instead of the answer and footer. */
  json: boolean;
}

/** Follows `task` to its end (Ctrl-C as in followTask) and returns the exit code to end with. */
export async function followAgentTurn(
  client: TurnClient,
  task: Task,
  view: TurnView,
): Promise<number> {
  const waiting = new AbortController();
  const watcher = watchWaiting(client, task, (t) => waitingLine(t, view.key), waiting.signal);
  let atLineStart = true;
  const onChunk = (chunk: LogChunk): void => {
    waiting.abort(); // output means it runs; the progress says the rest
    const bytes = chunkBytes(chunk);
    process.stderr.write(bytes);
    if (bytes.length > 0) atLineStart = bytes[bytes.length - 1] === 0x0a;
  };
  let done: Task | undefined;
  try {
    done = await followTask(client, task, onChunk);
  } finally {
    waiting.abort();
    await watcher;
  }
  if (!atLineStart) process.stderr.write('\n');
  if (!done) return 130;
  if (view.json) return (printJson(done), exitCodeOf(done));
  return printAnswer(done, view);
}

async function printAnswer(task: Task, view: TurnView): Promise<number> {
  const { agentOutputOf } = await import('../sdk/index.ts');
  const outcome = task.outcome;
  const answer = outcome?.stdout ?? '';
  if (outcome?.status === 'succeeded' && answer !== '') {
    process.stdout.write(answer.endsWith('\n') ? answer : `${answer}\n`);
  } else if (outcome?.status !== 'succeeded') {
    const why = outcome?.error?.message ?? 'no outcome';
    process.stderr.write(`outpost: agent turn ${task.id} ${task.state}: ${why}\n`);
  }
  const output = agentOutputOf(task);
  if (output) process.stderr.write(`${formatAgentFooter(view.key, view.agent, output)}\n`);
  return exitCodeOf(task);
}
