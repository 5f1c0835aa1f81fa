import { createHmac } from 'node:crypto';
import type { CipherSuite } from './cipher-suites.js';
import { type HmacHash, loadHmac } from './evp-hmac.js';

/** One direction's record protection keys. */
export interface TrafficKeys {
  readonly key: Buffer;
  /** TLS 1.2: the fixed IV from the key block (salt); TLS 1.3: the 12-byte write IV. */
  readonly iv: Buffer;
}

function hmac(hash: string, key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac(hash, key);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed) cut to `length` bytes. */
export function tls12Prf(hash: string, secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const out: Buffer[] = [];
  let produced = 0;
  let a: Buffer = labelSeed; // A(0)
  while (produced < length) {
    a = hmac(hash, secret, a); // A(i) = HMAC(secret, A(i-1))
    const block = hmac(hash, secret, a, labelSeed);
    out.push(block);
    produced += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/**
 * TLS 1.2 keys of an AEAD suite (RFC 5246 §6.3): key_block = PRF(master_secret, "key expansion",
 * server_random + client_random), read as client key, server key, client IV, server IV (AEAD
 * suites have no MAC keys, RFC 5288 §3).
 */
export function tls12TrafficKeys(
  suite: CipherSuite,
  masterSecret: Buffer,
  clientRandom: Buffer,
  serverRandom: Buffer,
): { client: TrafficKeys; server: TrafficKeys } {
  const k = suite.keyLength;
  const v = suite.ivLength;
  const block = tls12Prf(
    suite.hash,
    masterSecret,
    'key expansion',
    Buffer.concat([serverRandom, clientRandom]),
    2 * k + 2 * v,
  );
  return {
    client: { key: block.subarray(0, k), iv: block.subarray(2 * k, 2 * k + v) },
    server: { key: block.subarray(k, 2 * k), iv: block.subarray(2 * k + v, 2 * k + 2 * v) },
  };
}

/** HKDF-Expand (RFC 5869 §2.3). */
export function hkdfExpand(hash: string, prk: Buffer, info: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let produced = 0;
  let t: Buffer = Buffer.alloc(0);
  for (let i = 1; produced < length; i++) {
    t = hmac(hash, prk, t, info, Buffer.of(i));
    out.push(t);
    produced += t.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** HKDF-Expand-Label (RFC 8446 §7.1) with the "tls13 " prefix. */
export function hkdfExpandLabel(
  hash: string,
  secret: Buffer,
  label: string,
  context: Buffer,
  length: number,
): Buffer {
  const fullLabel = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([
    Buffer.of(length >> 8, length & 0xff, fullLabel.length),
    fullLabel,
    Buffer.of(context.length),
    context,
  ]);
  return hkdfExpand(hash, secret, info, length);
}

const libcryptoHmac = loadHmac();

/** info ‖ 0x01 by `label/length` (a handful: key and iv per key length, traffic upd per hash). */
const firstBlockInputs = new Map<string, Buffer>();

/**
 * HKDF-Expand-Label(secret, label, "", length) for a length of at most one hash output, which is
 * every use here (keys, IVs, the next traffic secret): HKDF-Expand is then its first block alone,
 * T(1) = HMAC(secret, info ‖ 0x01), cut to `length`. The info ‖ 0x01 bytes depend only on the
 * label and length and are built once; each derivation is one HMAC with one update, instead of
 * the general path's label, info, counter and output buffers (issue 16: two derivations per
 * login and per resume, ~6 us each in the gateway's profile). The HMAC is libcrypto's with a
 * kept context (evp-hmac.ts) where koffi is there, node:crypto's elsewhere: the same bytes.
 */
function expandLabelOneBlock(hash: HmacHash, secret: Buffer, label: string, length: number): Buffer {
  const key = `${label}/${length}`;
  let input = firstBlockInputs.get(key);
  if (!input) {
    const fullLabel = Buffer.from(`tls13 ${label}`, 'latin1');
    input = Buffer.concat([
      Buffer.of(length >> 8, length & 0xff, fullLabel.length),
      fullLabel,
      Buffer.of(0), // empty context
      Buffer.of(1), // HKDF-Expand's counter for T(1)
    ]);
    firstBlockInputs.set(key, input);
  }
  const block = libcryptoHmac?.(hash, secret, input) ?? createHmac(hash, secret).update(input).digest();
  if (length > block.length) {
    throw new RangeError(`HKDF-Expand-Label: ${length} bytes need more than one block`);
  }
  return length === block.length ? block : block.subarray(0, length);
}

/** The key and IV of a TLS 1.3 traffic secret (RFC 8446 §7.3). */
export function tls13TrafficKeys(suite: CipherSuite, secret: Buffer): TrafficKeys {
  return {
    key: expandLabelOneBlock(suite.hash, secret, 'key', suite.keyLength),
    iv: expandLabelOneBlock(suite.hash, secret, 'iv', 12),
  };
}

/** The traffic secret after a KeyUpdate (RFC 8446 §7.2). */
export function tls13NextTrafficSecret(suite: CipherSuite, secret: Buffer): Buffer {
  return expandLabelOneBlock(suite.hash, secret, 'traffic upd', secret.length);
}
