// Turns a CLI's stdout bytes into JSON events: split on newlines (a line may span many chunks and
// chunks may cut a UTF-8 character), parse each line, and read fields without trusting their types.

/**
 * A line longer than this is skipped, not buffered: a tool result can carry a whole file, and one
 * runaway line must not hold the runner's memory. The final result lines are far below it.
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Splits a byte stream into lines; `push` and `end` call `onLine` for each complete one. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private pending = 0;
  private skipping = false;
  /** Lines dropped for being longer than `maxLineBytes`. */
  skipped = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = MAX_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.take(chunk.subarray(start, nl));
      this.flush();
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
  }

  end(): void {
    if (this.pending > 0 || this.skipping) this.flush();
  }

  private take(part: Buffer): void {
    if (this.skipping) return;
    if (this.pending + part.length > this.maxLineBytes) {
      this.skipping = true;
      this.parts = [];
      this.pending = 0;
      return;
    }
    // Copied: the chunk is a view of a read buffer the stream reuses.
    this.parts.push(Buffer.from(part));
    this.pending += part.length;
  }

  private flush(): void {
    if (this.skipping) this.skipped += 1;
    else this.onLine(Buffer.concat(this.parts, this.pending).toString('utf8'));
    this.parts = [];
    this.pending = 0;
    this.skipping = false;
  }
}

export type JsonObject = Record<string, unknown>;

/** The object on a line, or undefined for anything else (blank lines, warnings, arrays). */
export function parseJsonObject(line: string): JsonObject | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function obj(value: unknown): JsonObject | undefined {
  return isObject(value) ? value : undefined;
}

/** A non-negative integer count (tokens, turns, ms); anything else is dropped. */
export function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
    ? Math.round(value)
    : undefined;
}

/** A non-negative amount such as a cost in USD. */
export function amount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** `value` without its undefined fields, so reports compare and serialise cleanly. */
export function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
