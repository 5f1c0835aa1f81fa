/**
 * How many TLS 1.3 NewSessionTicket messages a server context sends after each full handshake.
 *
 * OpenSSL sends two by default, and OpenSSL 3.0 makes each stateless ticket by encoding the
 * session and decoding it again into a private copy (tls_construct_new_session_ticket:
 * i2d_SSL_SESSION, then d2i_SSL_SESSION), client certificate included (X509 → the provider
 * decoders). perf of gateway A in `bench:sessions -- --site` put 6% of its CPU per resume there
 * with two tickets (3.7% with one), as much as parsing the client certificate the first time. A
 * VPN client keeps one tunnel connection, so one ticket covers its one possible resumption
 * (openconnect 9 resumes none: its GnuTLS build never calls gnutls_session_set_data). None at all
 * would end TLS 1.3 resumption, which other clients use.
 *
 * Node has no option for SSL_CTX_set_num_tickets; it is called on the SecureContext's SSL_CTX
 * through koffi (gateway/tls/ssl-ctx.ts). Where koffi or the SSL_CTX is missing, the context keeps
 * OpenSSL's default, and the caller is told so.
 */
import type { SecureContext } from 'node:tls';
import { freshSslCtx, sslCtxFunctions } from './ssl-ctx.js';

/**
 * Sets the TLS 1.3 tickets sent per full handshake, once per new context; true when the context
 * now says `tickets`, false when it keeps OpenSSL's default (no koffi, Node does not expose the
 * SSL_CTX, or the address does not read as a fresh SSL_CTX).
 */
export function setTls13Tickets(context: SecureContext, tickets: number): boolean {
  const fns = sslCtxFunctions();
  const ctx = fns && freshSslCtx(context, fns);
  if (!fns || ctx === undefined) return false;
  if (fns.setNumTickets(ctx, tickets) !== 1) return false;
  return Number(fns.getNumTickets(ctx)) === tickets;
}
