// Recent sessions from the CLIs' own storage on this machine (only the runner can see that disk):
// Claude's ~/.claude/projects/<project>/<session-id>.jsonl and Codex's
// ~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<session-id>.jsonl, newest first, topic = first user text.
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { RecentSession } from '../../protocol/agents.ts';
import { obj, parseJsonObject, str, type JsonObject } from './json-lines.ts';

export const MAX_RECENT = 20;
export const TOPIC_CHARS = 150;
/** The first user message is near the top; Codex's first line can carry ~20 KB of instructions. */
const HEAD_BYTES = 128 * 1024;
/** Bounds the stat calls of a very old CLI home. */
const MAX_FILES = 20_000;
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const CODEX_FILE =
  /^rollout-.+-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$/i;

interface Candidate {
  path: string;
  sessionId: string;
  lastModified: number;
  sizeBytes: number;
}

/**
 * Claude Code's sessions under `claudeDir` (~/.claude, or CLAUDE_CONFIG_DIR).
 * @example const sessions = await scanClaudeSessions(join(homedir(), '.claude'));
 */
export async function scanClaudeSessions(
  claudeDir: string,
  limit = MAX_RECENT,
): Promise<RecentSession[]> {
  const projects = join(claudeDir, 'projects');
  const files: string[] = [];
  for (const project of await listDir(projects)) {
    for (const name of await listDir(join(projects, project))) {
      // agent-*.jsonl are sub-agent transcripts of a session, not sessions of their own.
      if (name.endsWith('.jsonl') && !name.startsWith('agent-') && files.length < MAX_FILES)
        files.push(join(projects, project, name));
    }
  }
  const newest = await newestFirst(files, (path) => basename(path, '.jsonl'), limit);
  return Promise.all(
    newest.map(async (c) => {
      const lines = await readHeadLines(c.path);
      const project = lines.map((l) => str(l.cwd)).find((cwd) => cwd !== undefined);
      return toRecent(c, claudeTopic(lines), project ?? basename(join(c.path, '..')));
    }),
  );
}

/**
 * Codex's sessions under `codexDir` (~/.codex, or CODEX_HOME).
 * @example const sessions = await scanCodexSessions(join(homedir(), '.codex'));
 */
export async function scanCodexSessions(
  codexDir: string,
  limit = MAX_RECENT,
): Promise<RecentSession[]> {
  const files = await listTree(join(codexDir, 'sessions'), 3);
  const rollouts = files.filter((path) => CODEX_FILE.test(basename(path)));
  const newest = await newestFirst(
    rollouts,
    (path) => CODEX_FILE.exec(basename(path))?.[1] ?? '',
    limit,
  );
  return Promise.all(newest.map(async (c) => toRecent(c, codexTopic(await readHeadLines(c.path)))));
}

/** The first thing the user typed: Claude's first non-meta user line with text. */
export function claudeTopic(lines: readonly JsonObject[]): string {
  for (const line of lines) {
    if (line.type !== 'user' || line.isMeta === true || line.isSidechain === true) continue;
    const text = textOf(obj(line.message)?.content, 'text');
    if (text !== undefined && !/^\s*<(command-|local-command-|system-reminder)/.test(text))
      return text;
  }
  return '';
}

/** Codex: the first user_message event, else the first user message that is not injected context. */
export function codexTopic(lines: readonly JsonObject[]): string {
  const payloads = lines.map((l) => obj(l.payload) ?? l);
  const event = payloads.find((p) => p.type === 'user_message' && typeof p.message === 'string');
  if (event) return str(event.message) ?? '';
  for (const p of payloads) {
    if (p.type !== 'message' || p.role !== 'user') continue;
    const text = textOf(p.content, 'input_text');
    if (
      text !== undefined &&
      !/^\s*(<environment_context>|<user_instructions>|# AGENTS\.md)/.test(text)
    )
      return text;
  }
  return '';
}

/** A plain string, or the text blocks of a content array joined. */
function textOf(content: unknown, blockType: string): string | undefined {
  if (typeof content === 'string') return content.trim() === '' ? undefined : content;
  if (!Array.isArray(content)) return undefined;
  const texts = content
    .map((block) => obj(block))
    .filter((b) => b?.type === blockType && typeof b.text === 'string')
    .map((b) => b!.text as string);
  const text = texts.join('\n');
  return text.trim() === '' ? undefined : text;
}

/** On one line and cut at TOPIC_CHARS code points, as the legacy /claude/recent showed it. */
function cutTopic(text: string): string {
  return Array.from(text.replace(/\s+/g, ' ').trim()).slice(0, TOPIC_CHARS).join('');
}

function toRecent(c: Candidate, topic: string, project?: string): RecentSession {
  const session: RecentSession = {
    sessionId: c.sessionId,
    lastModified: c.lastModified,
    sizeBytes: c.sizeBytes,
    topic: cutTopic(topic),
  };
  return project === undefined ? session : { ...session, project };
}

async function newestFirst(
  paths: readonly string[],
  idOf: (path: string) => string,
  limit: number,
): Promise<Candidate[]> {
  const found = await Promise.all(
    paths.map(async (path): Promise<Candidate | undefined> => {
      const sessionId = idOf(path);
      if (!SESSION_ID.test(sessionId)) return undefined;
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) return undefined;
      return { path, sessionId, lastModified: Math.floor(info.mtimeMs), sizeBytes: info.size };
    }),
  );
  return found
    .filter((c) => c !== undefined)
    .sort((a, b) => b.lastModified - a.lastModified)
    .slice(0, limit);
}

/** The complete JSON lines within the first HEAD_BYTES of a file; the rest is never read. */
export async function readHeadLines(path: string, maxBytes = HEAD_BYTES): Promise<JsonObject[]> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return [];
  try {
    const buffer = Buffer.alloc(maxBytes);
    const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
    const lines = buffer.subarray(0, bytesRead).toString('utf8').split('\n');
    if (bytesRead === maxBytes) lines.pop(); // cut by the read: not a whole line
    return lines.map(parseJsonObject).filter((l) => l !== undefined);
  } finally {
    await handle.close();
  }
}

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Files exactly `depth` directories below `dir` (Codex: YYYY/MM/DD/file). */
async function listTree(dir: string, depth: number): Promise<string[]> {
  const names = await listDir(dir);
  if (depth === 0) return names.map((name) => join(dir, name));
  const nested = await Promise.all(names.map((name) => listTree(join(dir, name), depth - 1)));
  return nested.flat().slice(0, MAX_FILES);
}
