// How `outpost sessions` shows sessions and runners' recent sessions to people: aligned tables,
// one line per session, full ids (they are what `resume` and `--resume` take).
import type { RecentSessionList, Session } from '../protocol/agents.ts';
import { formatTime, printTable } from './output.ts';

/** Where the provider id goes when there is none: the key's next turn starts a new conversation. */
const NO_ID = '- (next turn starts fresh)';

export function printSessionList(sessions: Session[]): void {
  if (sessions.length === 0) return void process.stdout.write('No sessions yet.\n');
  printTable([
    ['KEY', 'AGENT', 'PROVIDER SESSION', 'TURNS', 'UPDATED'],
    ...sessions.map((s) => [
      s.key,
      s.agent,
      s.providerSessionId ?? NO_ID,
      String(s.taskCount),
      formatTime(s.updatedAt),
    ]),
  ]);
}

/** One key's sessions, one row per agent, with when each started and its last turn. */
export function printSessionDetails(sessions: Session[]): void {
  printTable([
    ['KEY', 'AGENT', 'PROVIDER SESSION', 'TURNS', 'CREATED', 'UPDATED', 'LAST TASK'],
    ...sessions.map((s) => [
      s.key,
      s.agent,
      s.providerSessionId ?? NO_ID,
      String(s.taskCount),
      formatTime(s.createdAt),
      formatTime(s.updatedAt),
      s.lastTaskId ?? '-',
    ]),
  ]);
}

export function printRecentSessions(list: RecentSessionList): void {
  const when =
    list.reportedAt === undefined ? 'never reported' : `reported ${formatTime(list.reportedAt)}`;
  process.stdout.write(`${list.agent} sessions on runner ${list.runner} (${when}):\n`);
  if (list.sessions.length === 0) return void process.stdout.write('  none\n');
  printTable([
    ['SESSION', 'MODIFIED', 'SIZE', 'PROJECT', 'TOPIC'],
    ...list.sessions.map((s) => [
      s.sessionId,
      formatTime(s.lastModified),
      formatBytes(s.sizeBytes),
      s.project ?? '-',
      oneLine(s.topic, 60),
    ]),
  ]);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A topic is the first user message: squeeze its whitespace so the table stays one line each. */
function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
