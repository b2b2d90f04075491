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
  let text = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text += '-';
    text += HEX[bytes[i]!];
  }
  return text;
}

/** Two hex digits per byte value: ids and secrets are made on every create and claim. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

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
  // Base64url without padding, 3 bytes → 4 characters; a short last group gives 2 or 3.
  for (let i = 0; i < raw.length; i += 3) {
    const n = (raw[i]! << 16) | ((raw[i + 1] ?? 0) << 8) | (raw[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((raw.length - i) * 8) / 6));
    for (let c = 0; c < chars; c++) text += BASE64URL[(n >> (18 - 6 * c)) & 63];
  }
  return text;
}
