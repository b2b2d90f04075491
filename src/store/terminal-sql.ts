// The terminal task states as an SQL list, for `state IN (…)` in both stores' queries.
import { TERMINAL_STATES } from '../protocol/tasks.ts';

export const TERMINAL_SQL = TERMINAL_STATES.map((s) => `'${s}'`).join(', ');
