// Gemini CLI: `gemini --prompt=<prompt> --output-format stream-json …`. Events: init (session id,
// model), message (user/assistant, assistant text possibly in deltas), tool_use, tool_result,
// error, result (status, stats). Exit codes: 0 ok, 1 error, 42 bad input, 53 turn limit.
import { count, definedOnly, obj, str, type JsonObject } from './json-lines.ts';
import { shortArg } from './progress.ts';
import type { AgentDriver, ProgressItem, StreamParser, TurnOptions, TurnReport } from './types.ts';

/**
 * The prompt rides in `--prompt=<text>`, one argv element: yargs would take a separate value
 * that starts with "-" for an option of its own. `--resume` always gets a full id, never
 * `latest`, since every session key has its own conversation.
 * @example buildGeminiArgs({ prompt: 'hi', model: 'gemini-2.5-pro', extraArgs: [], inGitRepo: true })
 * // ['--prompt=hi', '--output-format', 'stream-json', '-m', 'gemini-2.5-pro']
 */
export function buildGeminiArgs(turn: TurnOptions): string[] {
  const args = [`--prompt=${turn.prompt}`, '--output-format', 'stream-json'];
  if (turn.model) args.push('-m', turn.model);
  if (turn.mode) args.push('--approval-mode', turn.mode);
  if (turn.resume) args.push('--resume', turn.resume);
  args.push(...turn.extraArgs);
  return args;
}

class GeminiParser implements StreamParser {
  private report: TurnReport = { status: 'incomplete', text: '' };
  /** A tool ran since the last assistant text: the next text starts a new paragraph. */
  private toolSinceText = false;
  private lastError?: string;

  accept(event: JsonObject): ProgressItem[] {
    switch (event.type) {
      case 'init':
        this.report.sessionId = str(event.session_id) ?? this.report.sessionId;
        this.report.model = str(event.model) ?? this.report.model;
        return [
          {
            kind: 'note',
            text: `gemini session ${this.report.sessionId ?? '?'}${this.modelNote()}`,
          },
        ];
      case 'message':
        return event.role === 'assistant' ? this.assistant(event) : [];
      case 'tool_use':
        this.toolSinceText = true;
        return [
          { kind: 'tool', name: str(event.tool_name) ?? 'tool', arg: shortArg(event.parameters) },
        ];
      case 'error':
        return this.error(event);
      case 'result':
        return this.result(event);
      default:
        return [];
    }
  }

  currentSessionId(): string | undefined {
    return this.report.sessionId;
  }

  finish(): TurnReport {
    if (this.report.status === 'incomplete' && this.lastError !== undefined)
      return { ...this.report, status: 'provider_error', errorMessage: this.lastError };
    return definedOnly(this.report);
  }

  private modelNote(): string {
    return this.report.model ? ` · model ${this.report.model}` : '';
  }

  /** Gemini's own answer is every assistant chunk of the run, in order. */
  private assistant(event: JsonObject): ProgressItem[] {
    const content = str(event.content) ?? '';
    if (this.toolSinceText && this.report.text !== '' && !this.report.text.endsWith('\n'))
      this.report.text += '\n\n';
    this.toolSinceText = false;
    this.report.text += content;
    return [{ kind: 'text', text: content, delta: event.delta === true }];
  }

  private error(event: JsonObject): ProgressItem[] {
    const message = str(event.message) ?? 'error';
    if (event.severity !== 'warning') this.lastError = message;
    return [
      { kind: 'note', text: `${event.severity === 'warning' ? 'warning' : 'error'}: ${message}` },
    ];
  }

  private result(event: JsonObject): ProgressItem[] {
    const stats = obj(event.stats);
    const ok = event.status === 'success';
    const errorMessage = ok
      ? undefined
      : (str(obj(event.error)?.message) ?? this.lastError ?? 'error');
    this.report = definedOnly({
      ...this.report,
      status: ok ? 'success' : 'provider_error',
      durationMs: count(stats?.duration_ms),
      usage: stats
        ? definedOnly({
            inputTokens: count(stats.input_tokens),
            outputTokens: count(stats.output_tokens),
            cacheReadTokens: count(stats.cached),
          })
        : undefined,
      errorMessage,
    });
    return ok ? [] : [{ kind: 'note', text: `error: ${errorMessage}` }];
  }
}

export const geminiDriver: AgentDriver = {
  name: 'gemini',
  buildArgs: buildGeminiArgs,
  createParser: () => new GeminiParser(),
  // 'Error resuming session: Invalid session identifier "<id>".'
  resumeRejected: /Invalid session identifier|No previous sessions found/i,
  badFlagsExitCodes: [42],
  turnLimitExitCodes: [53],
};
