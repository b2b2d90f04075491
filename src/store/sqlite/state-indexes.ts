// The WHERE clauses of the partial state and event-type indexes (the schema's 15th migration).
// SQLite uses a partial index only for a query that repeats its WHERE term verbatim, so the queries
// build their conditions from these, and test/store/sqlite-indexes.test.ts checks the plans and
// that the schema spells each term as here.
//
// The terms are chains of `=` or `<>`, not `IN (...)` lists: every insert and update of a table
// evaluates the terms of its partial indexes (twice for an update: old row and new), and SQLite
// evaluates an `IN` of more than two constants by building a temporary B-tree of the list first.
// With `IN` lists, a queue-bound task built 17 such B-trees; each cost about as much as an index
// insert (bench/store-mix.ts under callgrind).
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

/** `(state = 'a' OR state = 'b')`: true for any of the values. */
const anyOf = (column: string, values: readonly string[]) =>
  `(${values.map((v) => `${column} = '${v}'`).join(' OR ')})`;

/** `type <> 'a' AND type <> 'b'`: true for none of them (the column is NOT NULL). */
const noneOf = (column: string, values: readonly string[]) =>
  values.map((v) => `${column} <> '${v}'`).join(' AND ');

export const LIVE_STATES = anyOf('state', LIVE);
export const UNSUCCESSFUL_STATES = anyOf('state', UNSUCCESSFUL);

/** The type index's term, its column named as the query names it (`e.type` under an alias). */
export const rareEventTypes = (column = 'type') => noneOf(column, HOT_EVENT_TYPES);

/** The partial index term a `state = ?` filter should carry (none for `succeeded`). */
export function stateIndexTerm(state: TaskState): string | undefined {
  if (LIVE.includes(state)) return LIVE_STATES;
  if (UNSUCCESSFUL.includes(state)) return UNSUCCESSFUL_STATES;
  return undefined;
}

/** The partial index term a `type = ?` filter should carry (none for the three hot types). */
export function eventTypeIndexTerm(type: string, column = 'type'): string | undefined {
  return HOT_EVENT_TYPES.includes(type) ? undefined : rareEventTypes(column);
}
