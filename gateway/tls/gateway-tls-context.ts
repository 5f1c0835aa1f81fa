import { constants } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { pemBlocks } from '../../certs/pem.js';
import { buildServerChain } from './server-chain.js';
import { setTls13Tickets } from './session-tickets.js';

/**
 * TLS 1.2 suites the gateway offers: ECDHE with an AEAD that Outpost's record layer carries
 * (cipher-suites.ts), so every tunnel can leave OpenSSL at CONNECT, in one process or in a worker.
 * No CBC (LUCKY13, and a worker cannot carry it: the CONNECT used to be refused with a 501 after
 * the handshake), no CCM/CCM-8/ARIA (OpenSSL's defaults offer them), no static RSA or DHE.
 * ECDSA first: the built-in CA issues P-256 keys.
 */
export const tls12Suites = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

/** TLS 1.3 suites: OpenSSL's default set (TLS_AES_128_CCM_* stay off, the record layer lacks CCM). */
export const tls13Suites = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const;

/**
 * Names the gateway's sessions for OpenSSL. A server that requests client certificates must set
 * one, or every resumed session (TLS 1.2 ticket or ID, TLS 1.3 PSK) ends in alert 80
 * internal_error (SSL_R_SESSION_ID_CONTEXT_UNINITIALIZED): curl, GnuTLS and Python all resume.
 */
const sessionIdContext = 'outpost-gateway';

export interface GatewayTlsMaterial {
  cert: Buffer | string;
  key: Buffer | string;
  /** CA bundle client certificates are requested for (certificate auth). */
  clientCa?: Buffer[];
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** TLS 1.3 NewSessionTicket messages per full handshake (default: defaultTls13Tickets). */
  tls13Tickets?: number;
}

/**
 * The options of the gateway's secure context, the one place that decides what the gateway offers:
 * TLS 1.2+, AEAD suites only, resumption that works with client certificates, and no
 * renegotiation. Node's own limit (3 renegotiations per 10 minutes) does not apply to a TLSSocket
 * built over a Duplex, as the gateway's are (tls-connection.ts), so OpenSSL refuses it outright
 * (SSL_OP_NO_RENEGOTIATION: a no_renegotiation alert to a client's ClientHello, RFC 5246 §7.2.2).
 */
export function gatewayTlsContextOptions(material: GatewayTlsMaterial): SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    minVersion: 'TLSv1.2',
    maxVersion: material.maxVersion ?? 'TLSv1.3',
    ciphers: [...tls13Suites, ...tls12Suites].join(':'),
    honorCipherOrder: true,
    sessionIdContext,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    ...(material.clientCa ? { ca: material.clientCa } : {}),
  };
}

/**
 * TLS 1.3 session tickets per full handshake by default: none. Each one costs a re-parse of the
 * client certificate and a TLS record (session-tickets.ts: ~5% of gateway A's CPU in
 * `bench:sessions -- --site`), and no AnyConnect client is known to use it:
 * - openconnect never resumes its CSTP TLS session: each connection starts a fresh one (GnuTLS
 *   build: gnutls_init per connection, never gnutls_session_set_data; libopenconnect.so.5 does
 *   not import it; OpenSSL build: no SSL_set_session on the HTTPS connection).
 * - ocserv, the server Cisco clients are used with besides Cisco's own, sends no TLS 1.3 ticket at
 *   all (it never calls gnutls_session_ticket_enable_server), and turns TLS 1.3 off for Cisco
 *   clients (cisco-client-compat, its issue #318); its TLS session cache (worker-resume.c) serves
 *   TLS 1.2 session IDs. TLS 1.2 resumption (RFC 5077 tickets) is untouched by this setting.
 * - In a site, tickets are sealed with each node's own keys: a client failing over to another
 *   node cannot use the one it holds.
 * A client that does resume TLS 1.3 still connects, with a full handshake; where such clients are
 * common, `gateway.tlsPolicy.tls13Tickets: 1` gives them one ticket each.
 */
export const defaultTls13Tickets = 0;

/**
 * The gateway's secure context: the options above, the server chain built once (not on every
 * handshake, server-chain.ts), and `tls13Tickets` TLS 1.3 tickets per handshake.
 */
export function gatewayTlsContext(material: GatewayTlsMaterial): SecureContext {
  const context = createSecureContext(gatewayTlsContextOptions(material));
  buildServerChain(context, material.cert);
  setTls13Tickets(context, material.tls13Tickets ?? defaultTls13Tickets);
  return context;
}

/**
 * The CA certificates (DER) a context made with `clientCa` verifies client certificates against:
 * with `ca` given, Node's context store holds those certificates and nothing else (no default
 * roots). Undefined when that cannot be told exactly: OpenSSL also reads TRUSTED CERTIFICATE and
 * X509 CERTIFICATE blocks, so a bundle with any block or BEGIN line besides plain CERTIFICATE
 * blocks gives undefined, and nothing is taken as verified against it.
 */
export function clientCaCertificates(clientCa: readonly (Buffer | string)[]): readonly Buffer[] | undefined {
  const ders: Buffer[] = [];
  for (const entry of clientCa) {
    const text = entry.toString();
    const blocks = pemBlocks(text);
    const begins = text.split('-----BEGIN ').length - 1;
    if (begins !== blocks.length || blocks.some((b) => b.label !== 'CERTIFICATE')) return undefined;
    for (const block of blocks) ders.push(block.der);
  }
  return ders.length > 0 ? ders : undefined;
}
