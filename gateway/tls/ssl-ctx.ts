/**
 * The SSL_CTX behind a Node SecureContext, for the few settings Node has no option for (TLS 1.3
 * tickets per handshake, the server chain built once): OpenSSL's SSL_CTX functions called
 * through koffi, as gateway/tls/evp.ts reaches the AEADs. Node hands the SSL_CTX out only as a V8
 * External (`context._external`), which koffi does not take as a pointer; its address is the one
 * util.inspect prints. Where koffi or that address is missing, callers keep OpenSSL's defaults.
 */
import { createRequire } from 'node:module';
import type { SecureContext } from 'node:tls';
import { inspect } from 'node:util';

export interface SslCtxFunctions {
  setNumTickets(ctx: number, tickets: number): number;
  getNumTickets(ctx: number): number | bigint;
  /** SSL_CTX_ctrl(ctx, cmd, larg, parg): the function behind OpenSSL's SSL_CTX_* control macros. */
  ctrl(ctx: number, cmd: number, larg: number, parg: Buffer | null): number | bigint;
}

let bound: SslCtxFunctions | null | undefined;

/** Node's libssl functions, or undefined where koffi or the symbols are missing. */
export function sslCtxFunctions(): SslCtxFunctions | undefined {
  if (bound !== undefined) return bound ?? undefined;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(path: null): {
        func(name: string, result: string, params: string[]): (...a: unknown[]) => unknown;
      };
    };
    const lib = koffi.load(null);
    bound = {
      setNumTickets: lib.func('SSL_CTX_set_num_tickets', 'int', [
        'uintptr_t',
        'size_t',
      ]) as SslCtxFunctions['setNumTickets'],
      getNumTickets: lib.func('SSL_CTX_get_num_tickets', 'size_t', [
        'uintptr_t',
      ]) as SslCtxFunctions['getNumTickets'],
      ctrl: lib.func('SSL_CTX_ctrl', 'long', [
        'uintptr_t',
        'int',
        'long',
        'void *',
      ]) as SslCtxFunctions['ctrl'],
    };
  } catch {
    bound = null;
  }
  return bound ?? undefined;
}

/** TLS 1.3 tickets a new SSL_CTX sends (OpenSSL 3: SSL_CTX_new sets num_tickets to 2). */
const OPENSSL_DEFAULT_TICKETS = 2;

/**
 * The SSL_CTX address behind a SecureContext, or undefined when Node does not show it. The SSL_CTX
 * must say `tickets` (a fresh one says OpenSSL's default); anything else means the address is not
 * one (a Node whose `_external` points elsewhere), and it is never written to.
 */
export function freshSslCtx(
  context: SecureContext,
  fns: SslCtxFunctions,
  tickets = OPENSSL_DEFAULT_TICKETS,
): number | undefined {
  const external = (context as unknown as { context?: { _external?: unknown } }).context?._external;
  if (external === undefined) return undefined;
  const hex = /^\[External: ([0-9a-f]{1,13})\]$/.exec(inspect(external))?.[1];
  const address = hex === undefined ? 0 : Number.parseInt(hex, 16);
  if (address <= 0) return undefined;
  return Number(fns.getNumTickets(address)) === tickets ? address : undefined;
}
