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
 * through koffi (as gateway/tls/evp.ts reaches the AEADs). Node hands the SSL_CTX out only as a V8
 * External (`context._external`), which koffi does not take as a pointer; its address is the one
 * util.inspect prints. Where koffi or that address is missing, the context keeps OpenSSL's
 * default, and the caller is told so.
 */
import { createRequire } from 'node:module';
import type { SecureContext } from 'node:tls';
import { inspect } from 'node:util';

interface TicketFunctions {
  set(ctx: number, tickets: number): number;
  get(ctx: number): number | bigint;
}

let bound: TicketFunctions | null | undefined;

function functions(): TicketFunctions | undefined {
  if (bound !== undefined) return bound ?? undefined;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(path: null): {
        func(name: string, result: string, params: string[]): (...a: unknown[]) => unknown;
      };
    };
    const lib = koffi.load(null);
    bound = {
      set: lib.func('SSL_CTX_set_num_tickets', 'int', ['uintptr_t', 'size_t']) as TicketFunctions['set'],
      get: lib.func('SSL_CTX_get_num_tickets', 'size_t', ['uintptr_t']) as TicketFunctions['get'],
    };
  } catch {
    bound = null;
  }
  return bound ?? undefined;
}

/** The SSL_CTX address behind a SecureContext, or undefined when Node does not show it. */
function sslCtxAddress(context: SecureContext): number | undefined {
  const external = (context as unknown as { context?: { _external?: unknown } }).context?._external;
  if (external === undefined) return undefined;
  const hex = /^\[External: ([0-9a-f]{1,13})\]$/.exec(inspect(external))?.[1];
  const address = hex === undefined ? 0 : Number.parseInt(hex, 16);
  return address > 0 ? address : undefined;
}

/** TLS 1.3 tickets a new SSL_CTX sends (OpenSSL 3: SSL_CTX_new sets num_tickets to 2). */
const OPENSSL_DEFAULT_TICKETS = 2;

/**
 * Sets the TLS 1.3 tickets sent per full handshake, once per new context; true when the context
 * now says `tickets`, false when it keeps OpenSSL's default (no koffi, Node does not expose the
 * SSL_CTX, or the address does not read as a fresh SSL_CTX).
 */
export function setTls13Tickets(context: SecureContext, tickets: number): boolean {
  const fns = functions();
  const ctx = sslCtxAddress(context);
  if (!fns || ctx === undefined) return false;
  // A fresh context says OpenSSL's default. Anything else means the address is not an SSL_CTX
  // (a Node whose `_external` points elsewhere): read, but never written to.
  if (Number(fns.get(ctx)) !== OPENSSL_DEFAULT_TICKETS) return false;
  if (fns.set(ctx, tickets) !== 1) return false;
  return Number(fns.get(ctx)) === tickets;
}
