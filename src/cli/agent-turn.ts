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

/** How often a waiting turn's state is read: a person notices a second, the server does not. */
const WAITING_POLL_MS = 1_000;

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
  const watcher = watchWaiting(client, task, view.key, waiting.signal);
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

/**
 * Says why the turn has not started, once per state, until it runs, ends, or `signal` aborts
 * (its first output). A turn is usually picked up within milliseconds, so "queued" is said only
 * once it has lasted a poll; read errors are skipped (the follow loop reports real trouble).
 */
async function watchWaiting(
  client: Pick<OutpostClient, 'getTask'>,
  task: Task,
  key: string,
  signal: AbortSignal,
): Promise<void> {
  const { delay } = await import('../sdk/index.ts');
  let current = task;
  let said: string | undefined;
  for (let polls = 0; !signal.aborted; polls += 1) {
    const line = waitingLine(current, key);
    if (line === undefined) {
      if (said !== undefined && current.state === 'running')
        say(`started on ${current.runner ?? 'a runner'}`);
      return;
    }
    if (line !== said && (current.state !== 'queued' || polls > 0)) say((said = line));
    await delay(WAITING_POLL_MS, signal);
    if (signal.aborted) return;
    current = await client.getTask(task.id, { signal }).catch(() => current);
  }
}

function say(line: string): void {
  process.stderr.write(`outpost: ${line}\n`);
}
