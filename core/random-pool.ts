import { randomFillSync } from 'node:crypto';

/**
 * Random bytes drawn from a buffer that one randomFillSync fills at a time, for callers that ask
 * for a few bytes per event (a session cookie per login): each randomBytes call costs a trip into
 * OpenSSL's RAND_bytes and a new Buffer (~25 us per login in the gateway's profile, issue 16),
 * one fill of 4 KiB serves 128 cookies. Each byte is handed out once: the pool is refilled when
 * what is left is shorter than a request, and a slice read is zeroed at once, so that the pool
 * never keeps a copy of a secret it handed out (a cookie is kept only as its hash).
 */
export class RandomPool {
  private readonly pool: Buffer;
  /** Offset of the first byte not handed out yet; pool.length when it must be refilled. */
  private next: number;

  constructor(size = 4096) {
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`random pool size ${size}`);
    // Its own allocation (not a slice of Node's shared pool), so zeroing touches nothing else.
    this.pool = Buffer.allocUnsafeSlow(size);
    this.next = size;
  }

  /** `length` fresh random bytes, encoded (`base64url` for a cookie, `hex`). */
  string(length: number, encoding: 'base64url' | 'hex'): string {
    const at = this.take(length);
    const text = this.pool.toString(encoding, at, at + length);
    this.pool.fill(0, at, at + length);
    return text;
  }

  /** `length` fresh random bytes in a Buffer of their own. */
  bytes(length: number): Buffer {
    const at = this.take(length);
    const out = Buffer.from(this.pool.subarray(at, at + length));
    this.pool.fill(0, at, at + length);
    return out;
  }

  private take(length: number): number {
    if (!Number.isInteger(length) || length <= 0 || length > this.pool.length) {
      throw new RangeError(`random pool: ${length} bytes from a pool of ${this.pool.length}`);
    }
    if (this.next + length > this.pool.length) {
      randomFillSync(this.pool);
      this.next = 0;
    }
    const at = this.next;
    this.next += length;
    return at;
  }
}
