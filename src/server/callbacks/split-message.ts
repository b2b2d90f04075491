// Splits an answer into chat messages of at most `limit` characters (Discord: 2,000), at line
// boundaries where it can, keeping ``` code fences balanced: a part that ends inside a fence
// closes it, and the next part reopens it with the same info string (the language).

/** Discord's limit per message, counted here in UTF-16 code units (never more than Discord's count). */
export const DISCORD_MESSAGE_LIMIT = 2000;

interface Fence {
  /** The backtick run that opened it; a closing line needs at least as many. */
  ticks: string;
  /** The opening line as written, used to reopen the fence in the next part. */
  opener: string;
}

/** CommonMark: up to 3 spaces, then 3+ backticks; an opener's info string has no backtick. */
const OPENER = /^ {0,3}(`{3,})([^`]*)$/;
const CLOSER = /^ {0,3}(`{3,})\s*$/;

/** The fence open after `line`, given the fence open before it. */
export function fenceAfter(open: Fence | undefined, line: string): Fence | undefined {
  if (open) {
    const close = CLOSER.exec(line);
    return close && close[1]!.length >= open.ticks.length ? undefined : open;
  }
  const start = OPENER.exec(line);
  return start ? { ticks: start[1]!, opener: line.trimStart() } : undefined;
}

/**
 * Splits `text` into ordered parts of at most `limit` characters. CRLF becomes LF; a line longer
 * than a part is cut (never inside a surrogate pair); parts holding only whitespace are dropped.
 * @example splitMessage('a\n```ts\nx\n```', 12) // ['a\n```ts\n```', '```ts\nx\n```']
 */
export function splitMessage(text: string, limit = DISCORD_MESSAGE_LIMIT): string[] {
  const splitter = new Splitter(limit);
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) splitter.addLine(line);
  return splitter.finish().filter((part) => part.trim() !== '');
}

class Splitter {
  private readonly parts: string[] = [];
  private current = '';
  /** Whether `current` holds a line yet (an empty first line is still a line). */
  private hasLine = false;
  private fence: Fence | undefined;
  /** False right after a fence opened in this part: nothing inside it yet. */
  private fenceHasBody = true;

  constructor(private readonly limit: number) {}

  addLine(line: string): void {
    if (this.fits(line)) return this.append(line);
    if (this.hasBody()) this.flush();
    if (this.fits(line)) return this.append(line);
    this.addLongLine(line);
  }

  finish(): string[] {
    if (this.hasBody()) this.parts.push(this.current);
    return this.parts;
  }

  /** Room for the line and, if a fence is open after it, the line that closes it. */
  private fits(line: string): boolean {
    const after = fenceAfter(this.fence, line);
    const separator = this.hasLine ? 1 : 0;
    return this.current.length + separator + line.length + closing(after).length <= this.limit;
  }

  private append(line: string): void {
    const after = fenceAfter(this.fence, line);
    this.fenceHasBody = after === undefined || after === this.fence;
    this.appendText(line, after);
  }

  private appendText(text: string, fence: Fence | undefined): void {
    this.current += (this.hasLine ? '\n' : '') + text;
    this.hasLine = true;
    this.fence = fence;
  }

  /** True unless `current` is empty or only the reopened fence line. */
  private hasBody(): boolean {
    return this.hasLine && this.current !== this.reopener();
  }

  /**
   * Ends the part (closing an open fence) and starts the next (reopening it). A fence opened by
   * the part's last line moves to the next part whole, rather than leave an empty block behind.
   */
  private flush(): void {
    const emptyFence = this.fence !== undefined && !this.fenceHasBody;
    const part = emptyFence
      ? this.current.slice(0, Math.max(0, this.current.lastIndexOf('\n')))
      : this.current + closing(this.fence);
    this.parts.push(part);
    this.current = this.reopener();
    this.hasLine = this.current !== '';
    this.fenceHasBody = true;
  }

  /** The line that reopens the open fence; just the backticks if its info string is huge. */
  private reopener(): string {
    if (!this.fence) return '';
    const { opener, ticks } = this.fence;
    return opener.length <= this.limit / 4 ? opener : ticks;
  }

  /**
   * A line that fits no part: cut into pieces that each fill a part. A piece is not a line of its
   * own, so it never opens or closes a fence; the whole line decides that, after its last piece.
   * (One edge is left: a line over the limit that starts with ``` but is no fence, as it has a
   * backtick further on, shows its first piece to the chat as a fence opener.)
   */
  private addLongLine(line: string): void {
    const after = fenceAfter(this.fence, line);
    let rest = line;
    while (rest !== '') {
      const room = this.limit - this.current.length - (this.hasLine ? 1 : 0);
      const cut = cutPoint(rest, room - closing(this.fence).length);
      this.appendText(rest.slice(0, cut), this.fence);
      this.fenceHasBody = true;
      rest = rest.slice(cut);
      if (rest !== '') this.flush();
    }
    this.fence = after;
  }
}

/** `\n` + backticks that close `fence`, or nothing. */
function closing(fence: Fence | undefined): string {
  return fence ? `\n${fence.ticks}` : '';
}

/**
 * Where to cut `text` to keep at most `max` characters: never between the halves of a surrogate
 * pair, and not where the rest would start a line with backticks (it would read as a fence).
 * Always at least one character, so cutting makes progress.
 */
function cutPoint(text: string, max: number): number {
  let cut = Math.max(1, Math.min(text.length, max));
  while (cut > 1 && cut < text.length && /^ {0,3}`/.test(text.slice(cut, cut + 4))) cut -= 1;
  if (cut > 1 && cut < text.length && isHighSurrogate(text.charCodeAt(cut - 1))) cut -= 1;
  return cut;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
