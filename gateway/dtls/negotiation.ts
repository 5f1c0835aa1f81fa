import type { DtlsOffer } from '../cstp/index.js';
import type { CipherSuite } from '../tls/cipher-suites.js';
import { TAG_LENGTH } from '../tls/cipher-suites.js';
import { type LegacySuite, legacySuites } from './cipher-suites.js';
import { DTLS_RECORD_HEADER_LENGTH } from './codec/record.js';

/** The word in X-DTLS-CipherSuite by which openconnect ≥ 8 asks for PSK-NEGOTIATE. */
export const PSK_NEGOTIATE = 'PSK-NEGOTIATE';

/** What a session's DTLS channel will be, decided at CONNECT from the client's offer. */
export type DtlsChoice =
  | { readonly mode: 'psk' }
  | { readonly mode: 'legacy'; readonly suite: LegacySuite; readonly masterSecret: Buffer }
  | { readonly mode: 'none'; readonly reason: string };

/**
 * ocserv's choice (worker-http.c, worker-vpn.c connect_handler): PSK-NEGOTIATE when the client
 * lists it (and the PSK can be exported from its TLS session); otherwise the legacy protocol with
 * the first suite of ours (legacySuites order) that the client lists in the header its name
 * belongs to, keyed by the client's X-DTLS-Master-Secret; otherwise no DTLS. openconnect offers
 * PSK-NEGOTIATE unless told `--dtls-ciphers`/`--dtls12-ciphers` without it, which is how the
 * legacy protocol is tested.
 */
export function chooseDtls(offer: DtlsOffer, pskAvailable: boolean): DtlsChoice {
  if (pskAvailable && offer.cipherSuites.includes(PSK_NEGOTIATE)) return { mode: 'psk' };
  if (!offer.masterSecret) return { mode: 'none', reason: 'no PSK-NEGOTIATE and no X-DTLS-Master-Secret' };
  for (const suite of legacySuites) {
    const list = suite.dtls12Header ? offer.dtls12CipherSuites : offer.cipherSuites;
    if (list.includes(suite.name)) return { mode: 'legacy', suite, masterSecret: offer.masterSecret };
  }
  return { mode: 'none', reason: 'no DTLS cipher suite in common' };
}

/**
 * Bytes a DTLS record adds to a packet: header, explicit nonce (GCM), tag, and the one-byte
 * CSTP-over-DTLS header inside (ocserv CSTP_DTLS_OVERHEAD). For PSK-NEGOTIATE the suite is chosen
 * only in the handshake, after the CONNECT answer: the largest of our suites' (GCM) counts.
 */
export function dtlsOverhead(suite?: CipherSuite): number {
  const nonce = suite?.aead === 'chacha20-poly1305' ? 0 : 8;
  return DTLS_RECORD_HEADER_LENGTH + nonce + TAG_LENGTH + 1;
}
