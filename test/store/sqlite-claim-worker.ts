// Child process for the cross-process claim test: opens the SQLite file, waits for "go" on stdin so
// every worker starts together, claims until the queue is empty, and prints the ids as JSON.
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { claimRequest } from './conformance/fixtures.ts';

const [path, runner, maxArg] = process.argv.slice(2);
const max = Number(maxArg ?? 2);
if (path === undefined || runner === undefined)
  throw new Error('usage: sqlite-claim-worker <db> <runner> [max]');

const store = openSqliteStore(path);
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
await once(lines, 'line');
const claimed: string[] = [];
for (;;) {
  const claims = await store.claimTasks(claimRequest({ runner, max }));
  if (claims.length === 0) break;
  claimed.push(...claims.map((c) => c.task.id));
}
process.stdout.write(`${JSON.stringify(claimed)}\n`);
lines.close();
await store.close();
