import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ConnectRequest, DtlsAnswer } from '../cstp/index.js';
import { pskPreference } from '../dtls/cipher-suites.js';
import { PSK_EXPORTER_LABEL, PSK_LENGTH } from '../dtls/key-schedule.js';
import { chooseDtls, dtlsOverhead } from '../dtls/negotiation.js';
import type { DtlsSessionParams } from '../dtls/server-handshake.js';

/** A session's DTLS channel as settled at CONNECT, before the answer is sent. */
export interface DtlsPlan {
  /** X-DTLS-App-ID (PSK) or X-DTLS-Session-ID (legacy): random, how the ClientHello names the session. */
  id: Buffer;
  params: DtlsSessionParams;
  /** The UDP port of the process that will run the tunnel. */
  port: number;
  /** Bytes DTLS adds to a packet: the data MTU leaves room for them. */
  overhead: number;
  /** Legacy: the suite's name and the header it goes back in (the one the client offered it in). */
  legacy?: { name: string; dtls12Header: boolean };
}

/**
 * What to offer a client that asked for DTLS: PSK-NEGOTIATE with the PSK exported now from its
 * TLS session (RFC 5705; the TLSSocket is gone after the takeover), or the legacy protocol with
 * its X-DTLS-Master-Secret; undefined (TLS only) when nothing fits, with the reason.
 */
export function planDtls(
  request: ConnectRequest,
  tls: TLSSocket,
  port: number,
): { plan?: DtlsPlan; reason?: string } {
  if (!request.dtls) return { reason: 'the client did not ask for DTLS' };
  const choice = chooseDtls(request.dtls, typeof tls.exportKeyingMaterial === 'function');
  const id = randomBytes(32);
  if (choice.mode === 'none') return { reason: choice.reason };
  if (choice.mode === 'legacy') {
    const suite = choice.suite.suite;
    return {
      plan: {
        id,
        port,
        overhead: dtlsOverhead(suite),
        params: { mode: 'legacy', sessionId: id, masterSecret: choice.masterSecret, suite },
        legacy: { name: choice.suite.name, dtls12Header: choice.suite.dtls12Header },
      },
    };
  }
  let psk: Buffer;
  try {
    // No context (RFC 5705 distinguishes none from an empty one in TLS 1.2): openconnect and
    // ocserv call gnutls_prf / SSL_export_keying_material without one. Node's types want a
    // Buffer; its implementation passes use_context = 0 for undefined.
    psk = tls.exportKeyingMaterial(PSK_LENGTH, PSK_EXPORTER_LABEL, undefined as unknown as Buffer);
  } catch (e) {
    return { reason: `no keying material from the TLS session: ${(e as Error).message}` };
  }
  // match-tls-dtls-ciphers in spirit: a client that chose ChaCha20 for TLS gets it for DTLS first.
  const chacha = /CHACHA20/.test(tls.getCipher()?.name ?? '');
  return {
    plan: {
      id,
      port,
      overhead: dtlsOverhead(),
      params: { mode: 'psk', psk, suites: pskPreference(chacha ? 'chacha20-poly1305' : undefined) },
    },
  };
}

/** The X-DTLS-* answer for a plan, with the data MTU negotiated for the session. */
export function dtlsAnswer(
  plan: DtlsPlan,
  timers: { dpd: number; keepalive: number; rekey: number },
  dataMtu: number,
): DtlsAnswer {
  const p = plan.params;
  return {
    port: plan.port,
    dpd: timers.dpd,
    keepalive: timers.keepalive,
    rekey: timers.rekey > 0 ? timers.rekey : null,
    channel:
      p.mode === 'psk' || !plan.legacy
        ? { mode: 'psk', appId: plan.id }
        : {
            mode: 'legacy',
            sessionId: plan.id,
            cipherSuite: plan.legacy.name,
            dtls12Header: plan.legacy.dtls12Header,
            mtu: dataMtu,
          },
  };
}
