import type { Duplex } from 'node:stream';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { openProxyTunnel } from './proxy-tunnel.js';

export interface CloudTlsOptions {
  /** Agent key and certificate (PEM) for mutual TLS; absent during enrollment. */
  key?: string;
  cert?: string;
  /** The pinned cloud CA; system roots when absent. */
  ca?: string;
  proxyUrl?: string;
  timeoutMs: number;
}

/**
 * A `createConnection` for node:https / ws that runs TLS over a proxy tunnel opened beforehand.
 * Without a proxy it returns undefined and the client opens its own TLS connection.
 */
export async function tunnelledConnection(
  target: { host: string; port: number },
  options: CloudTlsOptions,
): Promise<(() => TLSSocket) | undefined> {
  if (!options.proxyUrl) return undefined;
  const tunnel: Duplex = await openProxyTunnel({
    proxyUrl: options.proxyUrl,
    targetHost: target.host,
    targetPort: target.port,
    timeoutMs: options.timeoutMs,
  });
  return () =>
    tlsConnect({
      socket: tunnel,
      servername: target.host,
      ...tlsCredentials(options),
    });
}

/** The TLS options shared by the direct and the tunnelled connection. */
export function tlsCredentials(options: CloudTlsOptions): {
  key?: string;
  cert?: string;
  ca?: string;
  minVersion: 'TLSv1.2';
} {
  return {
    ...(options.key ? { key: options.key } : {}),
    ...(options.cert ? { cert: options.cert } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
    minVersion: 'TLSv1.2',
  };
}
