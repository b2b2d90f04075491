// Ids that sort by creation time (UUIDv7) and random secrets; uses Web Crypto so browsers can too.

/**
 * Random bytes come from a pool filled 4 KiB at a time: one getRandomValues call (a system call
 * in Node) per id was 3 % of a busy server's CPU. Each byte is handed out once (as randomUUID does).
 */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let poolOffset = POOL_BYTES;

/** `count` fresh random bytes (a copy: callers may change them). */
function randomBytes(count: number): Uint8Array {
  if (count > POOL_BYTES) return globalThis.crypto.getRandomValues(new Uint8Array(count));
  if (poolOffset + count > POOL_BYTES) {
    globalThis.crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const bytes = pool.slice(poolOffset, poolOffset + count);
  poolOffset += count;
  return bytes;
}

/** Last timestamp and 12-bit sequence handed out, so ids made in one millisecond still sort. */
let lastMs = 0;
let sequence = 0;

/**
 * A UUIDv7: 48 bits of epoch ms, a 12-bit sequence, then random bits. Ids sort by creation time,
 * also within one millisecond (the sequence counts up; RFC 9562 method 1), so FIFO holds.
 * @example newId() // '019374d2-6f1e-7c3a-9b1e-4c5d6e7f8a9b'
 */
export function newId(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  const ms = nextTimestamp(now, bytes[6]! & 0x07);
  writeTimestamp(bytes, ms);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Same or earlier ms: count up (borrowing the next ms on overflow); later ms: a fresh random start. */
function nextTimestamp(now: number, randomStart: number): number {
  if (now > lastMs) {
    lastMs = now;
    // Starting low leaves room for 4,000+ ids in the same millisecond before borrowing.
    sequence = randomStart;
  } else if (++sequence > 0xfff) {
    lastMs += 1;
    sequence = 0;
  }
  return lastMs;
}

function writeTimestamp(bytes: Uint8Array, ms: number): void {
  let rest = ms;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}

/** A random url-safe secret of `bytes` bytes of entropy (default 24 → 32 characters). */
export function newSecret(bytes = 24): string {
  const raw = randomBytes(bytes);
  let text = '';
  for (const b of raw) text += String.fromCharCode(b);
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
}
