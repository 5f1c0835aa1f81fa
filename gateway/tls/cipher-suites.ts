/**
 * The cipher suites whose records Outpost can protect itself after the handshake: the AEAD ones.
 * Record protection depends only on the AEAD and, for key derivation, the PRF/HKDF hash; the key
 * exchange and signature parts of a TLS 1.2 suite play no part once the master secret exists.
 * Anything else (CBC suites, which Node's default list still has) stays with OpenSSL.
 */
export type Aead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

export interface CipherSuite {
  /** IANA value, as in ServerHello.cipher_suite. */
  readonly id: number;
  readonly name: string;
  readonly version: TlsVersion;
  readonly aead: Aead;
  readonly keyLength: number;
  /**
   * TLS 1.2 "fixed IV" from the key block: 4-byte salt for GCM (RFC 5288 §3), 12 bytes for
   * ChaCha20-Poly1305 (RFC 7905 §2). TLS 1.3 IVs are always 12 bytes (RFC 8446 §5.3).
   */
  readonly ivLength: number;
  /** PRF hash (TLS 1.2, RFC 5246 §5) or HKDF hash (TLS 1.3, RFC 8446 §7.1). */
  readonly hash: 'sha256' | 'sha384';
}

export const TAG_LENGTH = 16;
/** TLS 1.2 GCM records carry 8 bytes of nonce before the ciphertext (RFC 5288 §3). */
export const GCM_EXPLICIT_NONCE_LENGTH = 8;

const aes128 = { aead: 'aes-128-gcm', keyLength: 16, hash: 'sha256' } as const;
const aes256 = { aead: 'aes-256-gcm', keyLength: 32, hash: 'sha384' } as const;
const chacha = { aead: 'chacha20-poly1305', keyLength: 32, hash: 'sha256' } as const;

const tls12 = (id: number, name: string, a: typeof aes128 | typeof aes256 | typeof chacha): CipherSuite => ({
  id,
  name,
  version: 'TLSv1.2',
  ...a,
  ivLength: a.aead === 'chacha20-poly1305' ? 12 : 4,
});
const tls13 = (id: number, name: string, a: typeof aes128 | typeof aes256 | typeof chacha): CipherSuite => ({
  id,
  name,
  version: 'TLSv1.3',
  ...a,
  ivLength: 12,
});

const suites: readonly CipherSuite[] = [
  tls13(0x1301, 'TLS_AES_128_GCM_SHA256', aes128),
  tls13(0x1302, 'TLS_AES_256_GCM_SHA384', aes256),
  tls13(0x1303, 'TLS_CHACHA20_POLY1305_SHA256', chacha),
  tls12(0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256', aes128),
  tls12(0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384', aes256),
  tls12(0x009e, 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256', aes128),
  tls12(0x009f, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384', aes256),
  tls12(0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', aes128),
  tls12(0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', aes256),
  tls12(0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', aes128),
  tls12(0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', aes256),
  tls12(0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', chacha),
  tls12(0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', chacha),
  tls12(0xccaa, 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256', chacha),
];

const byId = new Map(suites.map((s) => [s.id, s]));

/** The suite for a ServerHello's cipher_suite under the negotiated version, or undefined when unsupported. */
export function cipherSuite(id: number, version: TlsVersion): CipherSuite | undefined {
  const suite = byId.get(id);
  return suite?.version === version ? suite : undefined;
}

export function allCipherSuites(): readonly CipherSuite[] {
  return suites;
}
