// Codex CLI: `codex exec --json …`, resumed with `codex exec --json … resume <id> -- <prompt>`.
// Events: thread.started (the session id), item.* (agent_message, command_execution, …),
// turn.completed (usage) or turn.failed, and error.
import { count, definedOnly, obj, str, type JsonObject } from './json-lines.ts';
import { oneLine, shortArg, TOOL_ARG_CHARS } from './progress.ts';
import type { AgentDriver, ProgressItem, StreamParser, TurnOptions, TurnReport } from './types.ts';

/**
 * Options go before `resume`: `exec resume` accepts only a few of its own (no --sandbox), while
 * options given to `exec` apply to the resumed run too (and must be given again each time).
 * `--` keeps a prompt that starts with "-" from being read as an option.
 * @example buildCodexArgs({ prompt: 'hi', resume: 'abc', extraArgs: [], inGitRepo: true })
 * // ['exec', '--json', 'resume', 'abc', '--', 'hi']
 */
export function buildCodexArgs(turn: TurnOptions): string[] {
  const args = ['exec', '--json'];
  if (turn.model) args.push('--model', turn.model);
  if (turn.mode) args.push('--sandbox', turn.mode);
  if (!turn.inGitRepo) args.push('--skip-git-repo-check');
  args.push(...turn.extraArgs);
  if (turn.resume) args.push('resume', turn.resume);
  args.push('--', turn.prompt);
  return args;
}

type Usage = NonNullable<TurnReport['usage']>;

class CodexParser implements StreamParser {
  private sessionId?: string;
  private text = '';
  private turns = 0;
  private usage?: Usage;
  private failed?: string;
  private lastError?: string;
  /** Items already shown, so a command shown when it started is not shown again on completion. */
  private readonly shown = new Set<string>();

  accept(event: JsonObject): ProgressItem[] {
    switch (event.type) {
      case 'thread.started':
        this.sessionId = str(event.thread_id) ?? this.sessionId;
        return [{ kind: 'note', text: `codex session ${this.sessionId ?? '?'}` }];
      case 'item.started':
      case 'item.updated':
      case 'item.completed':
        return this.item(obj(event.item), event.type === 'item.completed');
      case 'turn.completed':
        this.turns += 1;
        this.addUsage(obj(event.usage));
        return [];
      case 'turn.failed':
        this.failed = str(obj(event.error)?.message) ?? 'turn failed';
        return [{ kind: 'note', text: `error: ${this.failed}` }];
      case 'error':
        this.lastError = str(event.message) ?? 'error';
        return [{ kind: 'note', text: `error: ${this.lastError}` }];
      default:
        return [];
    }
  }

  currentSessionId(): string | undefined {
    return this.sessionId;
  }

  finish(): TurnReport {
    // An `error` event alone can be a reconnect notice; the turn decides unless it never ended.
    const errorMessage = this.failed ?? (this.turns === 0 ? this.lastError : undefined);
    const status =
      errorMessage !== undefined ? 'provider_error' : this.turns > 0 ? 'success' : 'incomplete';
    return definedOnly({
      status,
      text: this.text,
      sessionId: this.sessionId,
      turns: this.turns,
      usage: this.usage,
      errorMessage,
    });
  }

  private item(item: JsonObject | undefined, completed: boolean): ProgressItem[] {
    if (!item) return [];
    if (item.type === 'agent_message') {
      if (!completed) return [];
      this.text = str(item.text) ?? '';
      return [{ kind: 'text', text: this.text }];
    }
    const id = str(item.id) ?? '';
    const tool = describeTool(item);
    if (!tool || (id !== '' && this.shown.has(id))) return [];
    if (id !== '') this.shown.add(id);
    return [tool];
  }

  private addUsage(usage: JsonObject | undefined): void {
    if (!usage) return;
    const add = (a: number | undefined, b: unknown) =>
      a === undefined && count(b) === undefined ? undefined : (a ?? 0) + (count(b) ?? 0);
    this.usage = definedOnly({
      inputTokens: add(this.usage?.inputTokens, usage.input_tokens),
      outputTokens: add(this.usage?.outputTokens, usage.output_tokens),
      cacheReadTokens: add(this.usage?.cacheReadTokens, usage.cached_input_tokens),
    });
  }
}

/** A progress line for the items that act on the machine or the web; reasoning stays out. */
function describeTool(item: JsonObject): ProgressItem | undefined {
  switch (item.type) {
    case 'command_execution':
      return { kind: 'tool', name: 'shell', arg: shortArg(unwrapShell(str(item.command) ?? '')) };
    case 'file_change': {
      const changes = Array.isArray(item.changes) ? item.changes : [];
      const paths = changes.map((c) => str(obj(c)?.path)).filter((p) => p !== undefined);
      return { kind: 'tool', name: 'edit', arg: oneLine(paths.join(', '), TOOL_ARG_CHARS) };
    }
    case 'mcp_tool_call': {
      const name = [str(item.server), str(item.tool)].filter(Boolean).join('.');
      return { kind: 'tool', name: name || 'mcp', arg: shortArg(item.arguments) };
    }
    case 'web_search':
      return { kind: 'tool', name: 'web_search', arg: shortArg(str(item.query) ?? '') };
    case 'error':
      return { kind: 'note', text: `warning: ${str(item.message) ?? 'error'}` };
    default:
      return undefined;
  }
}

/** Codex runs commands as `bash -lc '<command>'`; the command itself is what a reader wants. */
export function unwrapShell(command: string): string {
  const match = /^(?:\/bin\/|\/usr\/bin\/)?(?:ba|z)?sh -lc (.*)$/s.exec(command);
  if (!match) return command;
  const inner = match[1]!;
  return /^'.*'$/s.test(inner) || /^".*"$/s.test(inner) ? inner.slice(1, -1) : inner;
}

export const codexDriver: AgentDriver = {
  name: 'codex',
  buildArgs: buildCodexArgs,
  createParser: () => new CodexParser(),
  // "thread/resume failed: no rollout found for thread id <id>" since 0.130; older wordings too.
  resumeRejected:
    /no rollout found for thread|missing rollout path for thread|unknown session|session not found/i,
  // clap exits 2 on a usage error (unexpected argument, invalid value).
  badFlagsExitCodes: [2],
  turnLimitExitCodes: [],
};
