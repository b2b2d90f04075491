// Ids that sort by creation time (UUIDv7) and random secrets; uses Web Crypto so browsers can too.

/**
 * A UUIDv7: 48 bits of epoch ms then random bits, so ids sort by creation time.
 * @example newId() // '019374d2-6f1e-7c3a-9b1e-4c5d6e7f8a9b'
 */
export function newId(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A random url-safe secret of `bytes` bytes of entropy (default 24 → 32 characters). */
export function newSecret(bytes = 24): string {
  const raw = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(raw);
  let text = '';
  for (const b of raw) text += String.fromCharCode(b);
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
}
