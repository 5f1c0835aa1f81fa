import { type CipherSuite, cipherSuite } from '../tls/cipher-suites.js';

/**
 * The DTLS 1.2 suites the data channel protects records with: AEAD only, the same record
 * protection as TLS 1.2 (gateway/tls). Key exchange and signature parts of a suite's name play no
 * part: PSK-NEGOTIATE derives the master secret from a PSK (RFC 4279), the legacy protocol
 * resumes a master secret agreed over CSTP.
 */
const psk = (id: number, name: string, like: number): CipherSuite => {
  const base = cipherSuite(like, 'TLSv1.2')!;
  return { ...base, id, name };
};

/** Plain-PSK AEAD suites (RFC 5487, RFC 7905), what openconnect offers for PSK-NEGOTIATE. */
export const pskSuites = {
  aes128Gcm: psk(0x00a8, 'TLS_PSK_WITH_AES_128_GCM_SHA256', 0x009c),
  aes256Gcm: psk(0x00a9, 'TLS_PSK_WITH_AES_256_GCM_SHA384', 0x009d),
  chacha20: psk(0xccab, 'TLS_PSK_WITH_CHACHA20_POLY1305_SHA256', 0xcca8),
} as const;

/**
 * The server's preference for PSK-NEGOTIATE: AES-128-GCM first (the fastest with AES-NI, as
 * strong as the data it carries needs), then AES-256-GCM, then ChaCha20-Poly1305. A control
 * channel on ChaCha20 (a client without AES instructions chose it) moves ChaCha20 first, as
 * ocserv's match-tls-dtls-ciphers does.
 */
export function pskPreference(controlAead?: CipherSuite['aead']): CipherSuite[] {
  const order = [pskSuites.aes128Gcm, pskSuites.aes256Gcm, pskSuites.chacha20];
  if (controlAead === 'chacha20-poly1305') return [pskSuites.chacha20, ...order.slice(0, 2)];
  return order;
}

const tls12 = (id: number) => cipherSuite(id, 'TLSv1.2')!;

/**
 * Legacy ("Cisco") DTLS: the client names the suite in X-DTLS-CipherSuite (openconnect's own
 * names for DTLS 1.2) or X-DTLS12-CipherSuite (Cisco's DTLS 1.2 names); the server picks one and
 * both resume the session X-DTLS-Session-ID / X-DTLS-Master-Secret with it. Names and suites from
 * openconnect gnutls-dtls.c gnutls_dtls_ciphers[] and ocserv worker-http.c ciphersuites[]. The
 * DTLS 0.9 CBC suites (DHE-RSA-AES256-SHA, AES128-SHA, …) are not offered: pre-RFC DTLS with
 * MAC-then-encrypt CBC.
 */
export interface LegacySuite {
  /** The name in the CONNECT headers. */
  readonly name: string;
  /** Which header carries it: X-DTLS12-CipherSuite (true) or X-DTLS-CipherSuite. */
  readonly dtls12Header: boolean;
  readonly suite: CipherSuite;
}

/** In the server's order of preference (AES-128-GCM first, as for PSK). */
export const legacySuites: readonly LegacySuite[] = [
  { name: 'OC-DTLS1_2-AES128-GCM', dtls12Header: false, suite: tls12(0x009c) },
  { name: 'AES128-GCM-SHA256', dtls12Header: true, suite: tls12(0x009c) },
  { name: 'ECDHE-RSA-AES128-GCM-SHA256', dtls12Header: true, suite: tls12(0xc02f) },
  { name: 'OC-DTLS1_2-AES256-GCM', dtls12Header: false, suite: tls12(0x009d) },
  { name: 'AES256-GCM-SHA384', dtls12Header: true, suite: tls12(0x009d) },
  { name: 'ECDHE-RSA-AES256-GCM-SHA384', dtls12Header: true, suite: tls12(0xc030) },
  { name: 'OC2-DTLS1_2-CHACHA20-POLY1305', dtls12Header: false, suite: pskSuites.chacha20 },
];
