// The compact live log of an agent run: assistant text as it comes, one short line per tool call
// ("→ Bash: npm test"), and notes; never the raw JSON, which would bury the answer.
import { isObject } from './json-lines.ts';
import type { ProgressItem } from './types.ts';

/** Tool arguments are cut to this many characters: enough to recognise the call, one line. */
export const TOOL_ARG_CHARS = 100;

/** The fields that best name what a tool call does, most telling first. */
const TELLING_KEYS = [
  'command',
  'cmd',
  'file_path',
  'absolute_path',
  'path',
  'pattern',
  'query',
  'url',
  'description',
  'prompt',
];

/**
 * A short, one-line argument for a tool call: its command, path or query if it has one.
 * @example shortArg({ command: 'npm test', description: 'Run tests' }) // 'npm test'
 */
export function shortArg(input: unknown, maxChars = TOOL_ARG_CHARS): string {
  return oneLine(pickArg(input), maxChars);
}

function pickArg(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!isObject(input)) return input === undefined ? '' : JSON.stringify(input);
  for (const key of TELLING_KEYS) {
    const value = input[key];
    if (typeof value === 'string' && value.trim() !== '') return value;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(' ');
  }
  const firstString = Object.values(input).find((v) => typeof v === 'string');
  return typeof firstString === 'string' ? firstString : JSON.stringify(input);
}

/** Whitespace (newlines too) folded to single spaces, cut to `maxChars` with an ellipsis. */
export function oneLine(text: string, maxChars: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const chars = Array.from(flat); // by code point, so a cut never splits a surrogate pair
  return chars.length <= maxChars ? flat : `${chars.slice(0, maxChars - 1).join('')}…`;
}

/** Formats progress items into the live stream, keeping lines whole around streamed text. */
export class ProgressWriter {
  /** True while streamed text has not ended its line yet. */
  private midLine = false;

  constructor(private readonly write: (text: string) => void) {}

  add(items: readonly ProgressItem[]): void {
    for (const item of items) this.addOne(item);
  }

  /** Ends a line that streamed text left open, so whatever follows starts on its own. */
  end(): void {
    if (this.midLine) this.emit('\n');
  }

  private addOne(item: ProgressItem): void {
    if (item.kind === 'text' && item.delta) {
      if (item.text !== '') this.emit(item.text);
      return;
    }
    this.end();
    if (item.kind === 'text') {
      if (item.text.trim() !== '')
        this.emit(item.text.endsWith('\n') ? item.text : `${item.text}\n`);
    } else if (item.kind === 'tool') {
      this.emit(item.arg === '' ? `→ ${item.name}\n` : `→ ${item.name}: ${item.arg}\n`);
    } else {
      this.emit(`· ${item.text}\n`);
    }
  }

  private emit(text: string): void {
    this.midLine = !text.endsWith('\n');
    this.write(text);
  }
}
