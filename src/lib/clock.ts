// Time passed in, so tests control it; production uses Date.now.

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Clamps a lenient number (legacy query strings): NaN → fallback, else into [min, max]. */
export function clampNumber(raw: unknown, fallback: number, min: number, max: number): number {
  const n =
    typeof raw === 'number' ? raw : typeof raw === 'string' ? Number.parseInt(raw, 10) : NaN;
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, Math.trunc(n)));
}
