/**
 * The server's certificate chain, built once per secure context instead of on every handshake.
 *
 * When the configured certificate is a leaf alone, OpenSSL 3.0 builds the chain it sends in every
 * handshake's Certificate message (ssl_add_cert_chain: X509_verify_cert of the server's own leaf
 * against the context's store, the client-certificate CAs with certificate auth). That repeats,
 * per handshake, an issuer search and an ECDSA verify of the CA's signature on our own leaf: 1% of
 * gateway A's CPU in `bench:sessions -- --site` (perf, 3,000 resumes). SSL_CTX_build_cert_chain
 * runs the same build (same store, no untrusted certificates, a failed verify keeps the partial
 * chain as the per-handshake path does: SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR) once, and stores the
 * result as the leaf's chain, so each handshake sends the same certificates without rebuilding
 * them. A certificate file that carries its own intermediates is left alone: OpenSSL sends those
 * and builds nothing. Called through koffi (gateway/tls/ssl-ctx.ts); where that is missing, the
 * context keeps building per handshake.
 */
import type { SecureContext } from 'node:tls';
import { pemBlocks } from '../../certs/pem.js';
import { freshSslCtx, sslCtxFunctions } from './ssl-ctx.js';

/** ssl.h: SSL_CTRL_BUILD_CERT_CHAIN, SSL_CTRL_GET_CHAIN_CERTS, SSL_BUILD_CHAIN_FLAG_*. */
const SSL_CTRL_BUILD_CERT_CHAIN = 105;
const SSL_CTRL_GET_CHAIN_CERTS = 115;
const SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR = 0x8;
const SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR = 0x10;

/** Certificates in the configured `cert` (PEM): a leaf alone is what OpenSSL builds a chain for. */
export function certificatesIn(cert: Buffer | string): number {
  return pemBlocks(cert.toString()).filter((b) => b.label === 'CERTIFICATE').length;
}

/**
 * Builds the chain of a fresh context whose certificate is a leaf alone (call before any other
 * SSL_CTX tuning). True when the context now holds a built chain.
 */
export function buildServerChain(context: SecureContext, cert: Buffer | string): boolean {
  if (certificatesIn(cert) !== 1) return false;
  const fns = sslCtxFunctions();
  const ctx = fns && freshSslCtx(context, fns);
  if (!fns || ctx === undefined) return false;
  const flags = SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR | SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR;
  if (Number(fns.ctrl(ctx, SSL_CTRL_BUILD_CERT_CHAIN, flags, null)) <= 0) return false;
  return hasServerChain(context);
}

/**
 * Whether the context's certificate carries a chain (built, or given with the certificate).
 * `tickets`: what the context's TLS 1.3 ticket count says now (session-tickets.ts).
 */
export function hasServerChain(context: SecureContext, tickets?: number): boolean {
  const fns = sslCtxFunctions();
  const ctx = fns && freshSslCtx(context, fns, tickets);
  if (!fns || ctx === undefined) return false;
  const out = Buffer.alloc(8);
  if (Number(fns.ctrl(ctx, SSL_CTRL_GET_CHAIN_CERTS, 0, out)) !== 1) return false;
  return out.readBigUInt64LE(0) !== 0n;
}
