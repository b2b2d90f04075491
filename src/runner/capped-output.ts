// A stream's output kept in memory under a cap: the head and the tail, with one marker for what
// lies between, so a task that prints gigabytes costs the runner a bounded amount of memory.

/**
 * Keeps the first and the last half of `maxBytes` of a stream and counts what lies between, so
 * memory stays flat; the result shows one marker where output was left out (the server's live
 * output keeps head and tail the same way, so both tell the same story).
 */
export class CappedOutput {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  /**
   * The tail, a ring that new bytes overwrite oldest first, so pushing a gigabyte allocates
   * nothing once it is full. It grows (by doubling) only while it has never wrapped, so until it
   * is `tailMax` long its bytes are in order from 0.
   */
  private ring = Buffer.alloc(0);
  /** Where the next tail byte goes; once the ring is full, where its oldest byte is. */
  private ringEnd = 0;
  private tailBytes = 0;
  private total = 0;
  private readonly headMax: number;
  private readonly tailMax: number;

  constructor(maxBytes: number) {
    this.headMax = Math.ceil(maxBytes / 2);
    this.tailMax = maxBytes - this.headMax;
  }

  /** Takes a copy of what it keeps: `chunk` may be a view of a buffer its caller reuses. */
  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.headMax - this.headBytes;
    if (room > 0) {
      const part = chunk.subarray(0, room);
      this.head.push(Buffer.from(part));
      this.headBytes += part.length;
      if (part.length === chunk.length) return;
      chunk = chunk.subarray(part.length);
    }
    this.pushTail(chunk);
  }

  private pushTail(chunk: Buffer): void {
    if (this.tailMax <= 0 || chunk.length === 0) return;
    const part = chunk.length <= this.tailMax ? chunk : chunk.subarray(chunk.length - this.tailMax);
    this.reserve(part.length);
    const first = Math.min(part.length, this.ring.length - this.ringEnd);
    part.copy(this.ring, this.ringEnd, 0, first);
    part.copy(this.ring, 0, first);
    this.ringEnd = (this.ringEnd + part.length) % this.ring.length;
    this.tailBytes = Math.min(this.ring.length, this.tailBytes + part.length);
  }

  /** Grows the ring to hold `more` bytes besides its own, up to `tailMax`. */
  private reserve(more: number): void {
    const needed = Math.min(this.tailMax, this.tailBytes + more);
    if (this.ring.length >= needed) return;
    const size = Math.min(this.tailMax, Math.max(needed, this.ring.length * 2));
    const grown = Buffer.allocUnsafe(size);
    this.ring.copy(grown, 0, 0, this.tailBytes);
    this.ring = grown;
    this.ringEnd = this.tailBytes;
  }

  /** The tail's bytes, oldest first. */
  private tail(): Buffer {
    if (this.tailBytes < this.ring.length) return this.ring.subarray(0, this.tailBytes);
    return Buffer.concat([this.ring.subarray(this.ringEnd), this.ring.subarray(0, this.ringEnd)]);
  }

  finish(): { text: string; bytes: number; truncated: boolean } {
    const kept = this.headBytes + this.tailBytes;
    const truncated = this.total > kept;
    const head = Buffer.concat(this.head, this.headBytes);
    const tail = this.tail();
    if (!truncated)
      return { text: Buffer.concat([head, tail]).toString('utf8'), bytes: this.total, truncated };
    const shownHead = dropPartialChar(head);
    const shownTail = dropLeadingContinuation(tail);
    const omitted = this.total - shownHead.length - shownTail.length;
    const marker = `\n[outpost: ${omitted} bytes of output left out here; the head and the tail are kept]\n`;
    return {
      text: shownHead.toString('utf8') + marker + shownTail.toString('utf8'),
      bytes: this.total,
      truncated,
    };
  }
}

/** Cuts the continuation bytes of a character whose start fell before the tail began. */
function dropLeadingContinuation(buf: Buffer): Buffer {
  let start = 0;
  while (start < buf.length && start < 3 && ((buf[start] ?? 0) & 0xc0) === 0x80) start++;
  return buf.subarray(start);
}

/** Cuts a UTF-8 sequence split by the cap, so the kept text does not end in U+FFFD. */
function dropPartialChar(buf: Buffer): Buffer {
  let start = buf.length - 1;
  while (start >= 0 && buf.length - start < 4 && ((buf[start] ?? 0) & 0xc0) === 0x80) start--;
  const lead = buf[start];
  if (lead === undefined || lead < 0xc0) return buf;
  const needed = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
  return buf.length - start < needed ? buf.subarray(0, start) : buf;
}
