// Claude Code: `claude -p --output-format stream-json --verbose …`, parsed from its JSON lines
// (system/init, assistant, user, result). Success needs subtype "success" AND is_error false.
import type { AgentUsage } from '../../protocol/agents.ts';
import { amount, count, definedOnly, obj, str, type JsonObject } from './json-lines.ts';
import { shortArg } from './progress.ts';
import type { AgentDriver, ProgressItem, StreamParser, TurnOptions, TurnReport } from './types.ts';

/**
 * `--verbose` is mandatory with -p and stream-json (the CLI exits 1 without it). The prompt comes
 * last, after `--`: options such as --allowedTools take several values and would swallow it, and a
 * prompt starting with "-" must not be read as an option.
 * @example buildClaudeArgs({ prompt: 'hi', extraArgs: [], inGitRepo: true })
 * // ['-p', '--output-format', 'stream-json', '--verbose', '--', 'hi']
 */
export function buildClaudeArgs(turn: TurnOptions): string[] {
  const args = ['-p', '--output-format', 'stream-json', '--verbose'];
  if (turn.model) args.push('--model', turn.model);
  if (turn.resume) args.push('--resume', turn.resume);
  else if (turn.newSessionId) args.push('--session-id', turn.newSessionId);
  if (turn.mode) args.push('--permission-mode', turn.mode);
  args.push(...turn.extraArgs, '--', turn.prompt);
  return args;
}

class ClaudeParser implements StreamParser {
  private report: TurnReport = { status: 'incomplete', text: '' };
  private lastText = '';
  private sawResult = false;

  accept(event: JsonObject): ProgressItem[] {
    this.report.sessionId = str(event.session_id) ?? this.report.sessionId;
    if (event.type === 'system' && event.subtype === 'init') return this.init(event);
    if (event.type === 'assistant') return this.assistant(event);
    if (event.type === 'result') return this.result(event);
    return [];
  }

  currentSessionId(): string | undefined {
    return this.report.sessionId;
  }

  finish(): TurnReport {
    return this.sawResult ? this.report : { ...this.report, text: this.lastText };
  }

  private init(event: JsonObject): ProgressItem[] {
    this.report.model = str(event.model) ?? this.report.model;
    const model = this.report.model ? ` · model ${this.report.model}` : '';
    return [{ kind: 'note', text: `claude session ${this.report.sessionId ?? '?'}${model}` }];
  }

  private assistant(event: JsonObject): ProgressItem[] {
    const content = obj(event.message)?.content;
    if (!Array.isArray(content)) return [];
    const items: ProgressItem[] = [];
    for (const block of content) {
      const b = obj(block);
      if (b?.type === 'text' && typeof b.text === 'string') {
        this.lastText = b.text;
        items.push({ kind: 'text', text: b.text });
      } else if (b?.type === 'tool_use') {
        items.push({ kind: 'tool', name: str(b.name) ?? 'tool', arg: shortArg(b.input) });
      }
    }
    return items;
  }

  private result(event: JsonObject): ProgressItem[] {
    this.sawResult = true;
    const subtype = str(event.subtype) ?? 'unknown';
    const ok = subtype === 'success' && event.is_error === false;
    const text = str(event.result) ?? this.lastText;
    this.report = definedOnly({
      ...this.report,
      status: ok ? 'success' : subtype === 'error_max_turns' ? 'turn_limit' : 'provider_error',
      text,
      turns: count(event.num_turns),
      durationMs: count(event.duration_ms),
      costUsd: amount(event.total_cost_usd),
      usage: claudeUsage(obj(event.usage)),
      ...(ok ? {} : { errorMessage: resultError(event, subtype, text) }),
    });
    return ok ? [] : [{ kind: 'note', text: `error (${subtype}): ${this.report.errorMessage}` }];
  }
}

/** The result text usually says what went wrong; newer CLIs also list `errors`. */
function resultError(event: JsonObject, subtype: string, text: string): string {
  const errors = Array.isArray(event.errors)
    ? event.errors.filter((e) => typeof e === 'string')
    : [];
  const parts = [text, ...errors].filter((p) => p.trim() !== '');
  return parts.length > 0 ? parts.join('; ') : subtype;
}

function claudeUsage(usage: JsonObject | undefined): AgentUsage | undefined {
  if (!usage) return undefined;
  return definedOnly({
    inputTokens: count(usage.input_tokens),
    outputTokens: count(usage.output_tokens),
    cacheReadTokens: count(usage.cache_read_input_tokens),
    cacheCreationTokens: count(usage.cache_creation_input_tokens),
  });
}

export const claudeDriver: AgentDriver = {
  name: 'claude',
  buildArgs: buildClaudeArgs,
  createParser: () => new ClaudeParser(),
  // Printed when --resume names a session the CLI has no transcript of (e.g. a run that died
  // before its first model turn, or one started in another directory).
  resumeRejected: /No conversation found with session ID/i,
  // --session-id names a session with a transcript already: an earlier attempt of the same turn
  // (its runner died, the lease expired) started it.
  sessionTaken: /Session ID \S+ is already in use/i,
  badFlagsExitCodes: [],
  turnLimitExitCodes: [],
};
