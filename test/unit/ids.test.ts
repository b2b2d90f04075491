// Ids are UUIDv7 and sort by creation, also when many are made in one millisecond.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newId, newSecret } from '../../src/lib/ids.ts';

describe('newId', () => {
  it('makes version-7 UUIDs that carry the timestamp', () => {
    const at = Date.now() + 10 * 86_400_000;
    const id = newId(at);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(id.replaceAll('-', '').slice(0, 12), at.toString(16).padStart(12, '0'));
  });

  it('sorts ids made within one millisecond in creation order', () => {
    const at = Date.now() + 60_000;
    const ids = Array.from({ length: 10_000 }, () => newId(at));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('never goes backwards when the clock does', () => {
    const later = newId(Date.now() + 120_000);
    assert.ok(newId(Date.now()) > later);
  });
});

describe('newSecret', () => {
  it('makes url-safe secrets of the asked entropy', () => {
    const s = newSecret(24);
    assert.match(s, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(newSecret(), newSecret());
  });

  it('encodes every length as canonical unpadded base64url', () => {
    for (let bytes = 1; bytes <= 40; bytes++) {
      for (let i = 0; i < 50; i++) {
        const s = newSecret(bytes);
        const decoded = Buffer.from(s, 'base64url');
        assert.equal(decoded.length, bytes);
        assert.equal(decoded.toString('base64url'), s);
      }
    }
  });

  it('never hands out the same random bytes twice, across many refills of the pool', () => {
    const secrets = Array.from({ length: 3_000 }, () => newSecret(16));
    assert.equal(new Set(secrets).size, secrets.length);
    const big = newSecret(8_192);
    assert.equal(big.length, Math.ceil((8_192 * 4) / 3));
    // 48,000 random bytes: a pool that repeated or stuck would leave characters out.
    const counts = new Map<string, number>();
    for (const ch of secrets.join('')) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    assert.equal(counts.size, 64, 'every url-safe base64 character appears');
  });
});
