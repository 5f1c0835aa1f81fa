import { isIP, connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { Client } from 'ldapts';
import { withDeadline } from './deadline.js';
import type { LdapDirectorySettings } from './ldap-directory-config.js';

/**
 * A connected (and, for StartTLS, upgraded) ldapts client; the caller binds. The socket is made
 * here rather than lazily by the first operation so connect errors surface as connect errors.
 *
 * `onClose` fires when any socket of the connection closes. ldapts (8.2) watches only the socket
 * it connected: after StartTLS the TLS socket replaces it, and a dropped connection would still
 * report isConnected, so the next operation would wait out its timeout. The reused service
 * connection therefore watches the sockets itself, through ldapts's socket factories.
 */
export async function connectLdap(
  settings: LdapDirectorySettings,
  caPem: string | null,
  onClose?: () => void,
): Promise<Client> {
  const host = new URL(settings.url).hostname.replace(/^\[|\]$/g, '');
  const tlsOptions: ConnectionOptions = {
    minVersion: 'TLSv1.2',
    ...(caPem ? { ca: caPem } : {}),
    // StartTLS hands tls.connect a bare socket: without `host` Node would check the server
    // certificate against "localhost". SNI (servername) must not carry an IP (RFC 6066 §3).
    host,
    ...(isIP(host) ? {} : { servername: host }),
  };
  const client = new Client({
    url: settings.url,
    connectTimeout: settings.connectTimeoutMs,
    timeout: settings.operationTimeoutMs,
    // ldapts treats *any* non-empty tlsOptions as "connect with TLS", even for ldap:// URLs, so
    // they go in only for ldaps://; StartTLS gets them through startTLS() below.
    ...(new URL(settings.url).protocol === 'ldaps:' ? { tlsOptions } : {}),
    strictDN: false,
    ...(onClose
      ? {
          createConnection: watched(netConnect, onClose),
          createSecureConnection: watched(tlsConnect, onClose),
        }
      : {}),
  });
  try {
    if (settings.startTls) {
      // RFC 4513 §3: StartTLS first, so that no credential crosses the wire in clear.
      await withDeadline(
        client.startTLS(tlsOptions),
        settings.connectTimeoutMs + settings.operationTimeoutMs,
        () => new Error('StartTLS timed out'),
      );
    }
    return client;
  } catch (e) {
    void client.unbind().catch(() => undefined);
    throw e;
  }
}

/** `connect` with a close listener on every socket it makes. */
function watched<F extends (...args: never[]) => Socket>(connect: F, onClose: () => void): F {
  const wrapped = (...args: unknown[]): Socket => {
    const socket = (connect as unknown as (...a: unknown[]) => Socket)(...args);
    socket.once('close', onClose);
    return socket;
  };
  return wrapped as unknown as F;
}
