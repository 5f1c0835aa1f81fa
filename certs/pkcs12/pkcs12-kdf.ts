import { createHash, hash as oneShotHash } from 'node:crypto';

/** A digest usable by the PKCS#12 KDF: u = output bytes, v = block bytes (RFC 7292 Appendix B.2). */
export interface Pkcs12Hash {
  name: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
  u: number;
  v: number;
}

export const Pkcs12Hashes = {
  sha1: { name: 'sha1', u: 20, v: 64 },
  sha224: { name: 'sha224', u: 28, v: 64 },
  sha256: { name: 'sha256', u: 32, v: 64 },
  sha384: { name: 'sha384', u: 48, v: 128 },
  sha512: { name: 'sha512', u: 64, v: 128 },
} as const satisfies Record<string, Pkcs12Hash>;

/** The diversifier ID byte (RFC 7292 Appendix B.3): what the derived bytes are for. */
export const KdfPurpose = { key: 1, iv: 2, mac: 3 } as const;
export type KdfPurpose = (typeof KdfPurpose)[keyof typeof KdfPurpose];

/**
 * RFC 7292 Appendix B.2: derives `length` bytes from a BMPString password (see password.ts) and a
 * salt. Not PBKDF2: only the PKCS#12 MAC key and the legacy pbeWithSHAAnd… schemes use it, so it
 * is not in node:crypto and is written out here step by step.
 */
export function pkcs12Kdf(
  hash: Pkcs12Hash,
  password: Buffer,
  salt: Buffer,
  iterations: number,
  purpose: KdfPurpose,
  length: number,
): Buffer {
  const { name, u, v } = hash;
  const diversifier = Buffer.alloc(v, purpose); // step 1: D = v copies of ID
  // steps 2-4: I = S || P, each repeated to a whole number of v-byte blocks (empty stays empty)
  const input = Buffer.concat([repeatToBlocks(salt, v), repeatToBlocks(password, v)]);
  const blocks = Math.ceil(length / u); // step 5: c
  const out = Buffer.alloc(blocks * u);
  for (let i = 0; i < blocks; i++) {
    // step 6a: A_i = H^r(D || I)
    let a = createHash(name).update(diversifier).update(input).digest();
    // crypto.hash (one call, no Hash object) halves the cost of the 2048 rounds a PFX needs.
    for (let r = 1; r < iterations; r++) a = oneShotHash(name, a, 'buffer');
    a.copy(out, i * u);
    if (i + 1 === blocks) break;
    // steps 6b-6c: B = A_i repeated to v bytes; every v-byte block I_j := (I_j + B + 1) mod 2^(8v)
    const b = repeatToLength(a, v);
    for (let j = 0; j < input.length; j += v) addWithCarry(input, j, v, b);
  }
  return out.subarray(0, length);
}

function repeatToBlocks(bytes: Buffer, v: number): Buffer {
  return repeatToLength(bytes, v * Math.ceil(bytes.length / v));
}

function repeatToLength(bytes: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0; at < length; at += bytes.length)
    bytes.copy(out, at, 0, Math.min(bytes.length, length - at));
  return out;
}

/** target[at..at+v) := (target[at..at+v) + b + 1) mod 2^(8v), big-endian. */
function addWithCarry(target: Buffer, at: number, v: number, b: Buffer): void {
  let carry = 1;
  for (let k = v - 1; k >= 0; k--) {
    const sum = target[at + k]! + b[k]! + carry;
    target[at + k] = sum & 0xff;
    carry = sum >>> 8;
  }
}
