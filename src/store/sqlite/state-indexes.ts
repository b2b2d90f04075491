// The WHERE clauses of the partial state and event-type indexes (the schema's 13th migration).
// SQLite uses a partial index only for a query that repeats its WHERE term verbatim, so the queries
// build their conditions from these, and test/store/sqlite-indexes.test.ts checks the plans.
import type { TaskState } from '../../protocol/tasks.ts';

/** Pending and running tasks: few at any time, so their index stays a handful of pages. */
const LIVE: readonly TaskState[] = ['scheduled', 'held', 'queued', 'running'];
/** Ended tasks other than succeeded ones: rare, so worth an index to list them. */
const UNSUCCESSFUL: readonly TaskState[] = ['failed', 'timed_out', 'cancelled', 'lost'];
/**
 * The three events each task writes on the hot path, left out of the type index. They are most of
 * the log, so a list of one of them finds its rows quickly in id order with no index.
 */
const HOT_EVENT_TYPES: readonly string[] = ['task.created', 'task.started', 'task.completed'];

/** `('a', 'b')`, as the migration spells the lists. */
const sqlList = (values: readonly string[]) => `(${values.map((v) => `'${v}'`).join(', ')})`;

export const LIVE_STATES = `state IN ${sqlList(LIVE)}`;
export const UNSUCCESSFUL_STATES = `state IN ${sqlList(UNSUCCESSFUL)}`;
export const RARE_EVENT_TYPES = `type NOT IN ${sqlList(HOT_EVENT_TYPES)}`;

/** The partial index term a `state = ?` filter should carry (none for `succeeded`). */
export function stateIndexTerm(state: TaskState): string | undefined {
  if (LIVE.includes(state)) return LIVE_STATES;
  if (UNSUCCESSFUL.includes(state)) return UNSUCCESSFUL_STATES;
  return undefined;
}

/** The partial index term a `type = ?` filter should carry (none for the three hot types). */
export function eventTypeIndexTerm(type: string): string | undefined {
  return HOT_EVENT_TYPES.includes(type) ? undefined : RARE_EVENT_TYPES;
}
