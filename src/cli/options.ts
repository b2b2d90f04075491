// Option parsers shared by commands: commander calls them, a bad value stops with a clear error.
import { InvalidArgumentError } from 'commander';

export function parseIntOption(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
}

/** Parses durations like 500ms, 30s, 5m, 1h or a bare number of milliseconds. */
export function parseDurationOption(name: string) {
  return (value: string): number => {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
    if (!match)
      throw new InvalidArgumentError(
        `${name} must be a duration like 30s, 5m or 1500ms, got "${value}"`,
      );
    const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms'] ?? 1;
    return Math.round(Number(match[1]) * factor);
  };
}

export function parseListOption(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
