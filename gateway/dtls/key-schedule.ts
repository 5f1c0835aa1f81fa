import { createHash } from 'node:crypto';
import type { CipherSuite } from '../tls/cipher-suites.js';
import { tls12Prf } from '../tls/key-schedule.js';

/**
 * The PSK of PSK-NEGOTIATE: 32 bytes exported from the CSTP TLS session (RFC 5705, no context)
 * under this label. openconnect (openconnect-internal.h PSK_LABEL, PSK_KEY_SIZE; gnutls-dtls.c
 * start_dtls_psk_handshake, openssl-dtls.c start_dtls_handshake) and ocserv (worker-vpn.c
 * setup_dtls_psk_keys) both derive it so; the identity the client sends is "psk" and neither
 * side checks it.
 */
export const PSK_EXPORTER_LABEL = 'EXPORTER-openconnect-psk';
export const PSK_LENGTH = 32;
export const MASTER_SECRET_LENGTH = 48;
export const VERIFY_DATA_LENGTH = 12;

/**
 * The premaster secret of a plain PSK suite (RFC 4279 §2): other_secret is N zero bytes,
 * struct { opaque other_secret<0..2^16-1>; opaque psk<0..2^16-1>; }.
 */
export function pskPremasterSecret(psk: Uint8Array): Buffer {
  const n = psk.length;
  const pms = Buffer.alloc(4 + 2 * n);
  pms.writeUInt16BE(n, 0);
  pms.writeUInt16BE(n, 2 + n);
  pms.set(psk, 4 + n);
  return pms;
}

/** master_secret = PRF(pre_master_secret, "master secret", client_random + server_random) (RFC 5246 §8.1). */
export function masterSecret(
  suite: CipherSuite,
  premaster: Buffer,
  clientRandom: Buffer,
  serverRandom: Buffer,
): Buffer {
  return tls12Prf(
    suite.hash,
    premaster,
    'master secret',
    Buffer.concat([clientRandom, serverRandom]),
    MASTER_SECRET_LENGTH,
  );
}

/** RFC 7627 §4: master_secret = PRF(pre_master_secret, "extended master secret", session_hash). */
export function extendedMasterSecret(suite: CipherSuite, premaster: Buffer, sessionHash: Buffer): Buffer {
  return tls12Prf(suite.hash, premaster, 'extended master secret', sessionHash, MASTER_SECRET_LENGTH);
}

/** The hash of the handshake messages so far, with the suite's PRF hash. */
export function transcriptHash(suite: CipherSuite, messages: readonly Buffer[]): Buffer {
  const h = createHash(suite.hash);
  for (const m of messages) h.update(m);
  return h.digest();
}

/** Finished.verify_data = PRF(master_secret, finished_label, Hash(handshake_messages))[0..11] (RFC 5246 §7.4.9). */
export function finishedVerifyData(
  suite: CipherSuite,
  master: Buffer,
  sender: 'client' | 'server',
  handshakeHash: Buffer,
): Buffer {
  return tls12Prf(suite.hash, master, `${sender} finished`, handshakeHash, VERIFY_DATA_LENGTH);
}
