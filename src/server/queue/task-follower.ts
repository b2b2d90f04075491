// Follows one task for `GET /v1/tasks/:id/events`: its state changes (from the event log) and its
// output chunks, in a resumable order, until it has ended and everything was sent.
import { isTerminal } from '../../protocol/tasks.ts';
import type { Event } from '../../protocol/events.ts';
import type { LogChunk } from '../../protocol/output.ts';
import type { Store } from '../../store/types.ts';
import { watchKey, type WaiterHub, type WaitSignal } from './waiters.ts';

/** Where a follower is: the last event id and the last output seq it was sent. */
export interface FollowCursor {
  eventId: number;
  seq: number;
}

export type FollowMessage =
  | { kind: 'state'; cursor: FollowCursor; event: Event }
  | { kind: 'output'; cursor: FollowCursor; chunk: LogChunk }
  | { kind: 'end'; cursor: FollowCursor }
  | { kind: 'idle' };

const PAGE = 256;

/** `<eventId>.<seq>`: the SSE id of a message, and what `Last-Event-ID` sends back. */
export const formatCursor = (c: FollowCursor): string => `${c.eventId}.${c.seq}`;

export function parseCursor(text: string | undefined): FollowCursor | undefined {
  const match = /^(\d{1,15})\.(\d{1,15})$/.exec(text?.trim() ?? '');
  return match ? { eventId: Number(match[1]), seq: Number(match[2]) } : undefined;
}

/**
 * Yields what happened after `from`, then waits for more. State changes up to the task's end come
 * before the output written after them; the end itself (and anything after it) only once every
 * chunk was sent, so a follower never sees "succeeded" before the last line. `idle` is yielded
 * after `idleMs` without news, for keep-alives. Returns after `end` or when `signal` aborts.
 */
export async function* followTask(
  deps: { store: Store; hub: WaiterHub },
  taskId: string,
  from: FollowCursor,
  opts: { idleMs: number; signal: WaitSignal },
): AsyncGenerator<FollowMessage> {
  const cursor = { ...from };
  while (!opts.signal.aborted) {
    const sub = deps.hub.subscribe(watchKey(taskId));
    try {
      const events = await deps.store.listEvents({ taskId, after: cursor.eventId, limit: PAGE });
      const page = await deps.store.readOutput(taskId, cursor.seq, PAGE);
      if (page === undefined) return;
      const end = events.findIndex((e) => e.taskState !== undefined && isTerminal(e.taskState));
      const before = end === -1 ? events : events.slice(0, end);
      let sent = 0;
      for (const event of before) {
        cursor.eventId = event.id;
        sent += 1;
        yield { kind: 'state', cursor: { ...cursor }, event: publicEvent(event) };
      }
      for (const chunk of page.chunks) {
        cursor.seq = chunk.seq;
        sent += 1;
        yield { kind: 'output', cursor: { ...cursor }, chunk };
      }
      // The end waits until the output is read to its last chunk.
      const outputRead = page.chunks.length < PAGE;
      if (outputRead && end !== -1) {
        for (const event of events.slice(end)) {
          cursor.eventId = event.id;
          sent += 1;
          yield { kind: 'state', cursor: { ...cursor }, event: publicEvent(event) };
        }
      }
      if (outputRead && page.done && events.length < PAGE) {
        yield { kind: 'end', cursor: { ...cursor } };
        return;
      }
      if (sent === 0 && !(await sub.wait(opts.idleMs, opts.signal))) {
        if (opts.signal.aborted) return;
        yield { kind: 'idle' };
      }
    } finally {
      sub.dispose();
    }
  }
}

/** The wire event without the store's join of task details. */
function publicEvent(event: Event & { task?: unknown }): Event {
  const { task: _task, ...rest } = event;
  return rest;
}
