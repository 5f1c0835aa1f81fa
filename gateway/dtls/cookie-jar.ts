import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE_LENGTH = 32;

export interface CookieJarOptions {
  /** How long one secret mints cookies; a cookie is accepted for up to twice this. */
  rotateMs?: number;
  now?: () => number;
  random?: (n: number) => Buffer;
}

/**
 * Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1): Cookie = HMAC(Secret, Client-IP,
 * Client-Parameters). The server keeps nothing per client until a ClientHello comes back with a
 * cookie that verifies, which proves the client receives at its source address; a flood of
 * spoofed ClientHellos costs one HMAC and one small datagram each, no state. The secret rotates
 * every `rotateMs`; cookies of the previous secret are still accepted (a client may take a
 * moment to answer).
 *
 * Client-Parameters are the ClientHello's bytes without the cookie (version, random,
 * session_id, cipher suites, compression, extensions): the second ClientHello must repeat them.
 */
export class CookieJar {
  private readonly rotateMs: number;
  private readonly now: () => number;
  private readonly random: (n: number) => Buffer;
  private period = Number.NaN;
  private current: Buffer = Buffer.alloc(0);
  private previous: Buffer | undefined;

  constructor(options: CookieJarOptions = {}) {
    this.rotateMs = options.rotateMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? randomBytes;
  }

  make(address: string, port: number, parameters: Uint8Array): Buffer {
    this.rotate();
    return cookie(this.current, address, port, parameters);
  }

  verify(address: string, port: number, parameters: Uint8Array, presented: Uint8Array): boolean {
    if (presented.length !== COOKIE_LENGTH) return false;
    this.rotate();
    if (timingSafeEqual(cookie(this.current, address, port, parameters), presented)) return true;
    return (
      this.previous !== undefined &&
      timingSafeEqual(cookie(this.previous, address, port, parameters), presented)
    );
  }

  private rotate(): void {
    const period = Math.floor(this.now() / this.rotateMs);
    if (period === this.period) return;
    this.previous = period === this.period + 1 ? this.current : undefined;
    this.current = this.random(32);
    this.period = period;
  }
}

function cookie(secret: Buffer, address: string, port: number, parameters: Uint8Array): Buffer {
  const where = Buffer.from(`${address}\0${port}\0`, 'latin1');
  return createHmac('sha256', secret).update(where).update(parameters).digest();
}
