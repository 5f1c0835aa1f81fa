import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { HeaderMap } from '../cstp/index.js';
import { connectionOf, type TlsConnection } from '../tls/tls-connection.js';
import type { DialogueRequest } from './auth-dialogue.js';

/** Certificates of a client chain looked at (the authenticator allows 3 intermediates). */
const maxPeerChain = 8;

/** An auth request, from the HTTP server or read directly (request-router.ts), for the dialogue. */
export function dialogueRequest(
  socket: TLSSocket,
  path: string,
  headers: HeaderMap,
  body: Buffer | string,
): DialogueRequest {
  const connection = connectionOf(socket);
  const verifiedAgainst = connection?.clientChainVerifiedAgainst;
  return {
    path,
    body: typeof body === 'string' ? body : body.toString('utf8'),
    headers,
    remoteAddress: connection?.remoteAddress ?? 'unknown',
    ...clientChain(connection, socket),
    ...(verifiedAgainst ? { clientChainVerifiedAgainst: verifiedAgainst } : {}),
  };
}

/**
 * The chain the client presented: as read from its TLS 1.3 handshake records when they could be
 * (DER only: the certificate authenticator parses what it needs, and an X509Certificate of the
 * leaf only when it must verify a signature itself), else as Node parsed it.
 */
function clientChain(
  connection: TlsConnection | undefined,
  socket: TLSSocket,
): { clientChainDer: Buffer[]; clientChain?: X509Certificate[] } {
  const presented = connection?.presentedChainDer();
  if (presented && presented.length > 0) return { clientChainDer: presentedChain(presented) };
  return peerChain(connection ? connection.peerCertificate() : socket.getPeerX509Certificate?.());
}

/** As peerChain() walks Node's chain: at most maxPeerChain, up to a certificate sent twice in a row. */
function presentedChain(presented: Buffer[]): Buffer[] {
  const der: Buffer[] = [];
  for (const cert of presented) {
    if (der.length === maxPeerChain || der.at(-1)?.equals(cert)) break;
    der.push(cert);
  }
  return der;
}

function peerChain(leaf: X509Certificate | undefined): {
  clientChainDer: Buffer[];
  clientChain: X509Certificate[];
} {
  const der: Buffer[] = [];
  const chain: X509Certificate[] = [];
  let cert = leaf;
  while (cert && chain.length < maxPeerChain) {
    const raw = cert.raw;
    der.push(raw);
    chain.push(cert);
    const issuer = cert.issuerCertificate;
    if (!issuer || issuer.raw.equals(raw)) break;
    cert = issuer;
  }
  return { clientChainDer: der, clientChain: chain };
}
