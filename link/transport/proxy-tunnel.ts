import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { ErrorCodes, OutpostError } from '../../core/errors.js';

export interface TunnelOptions {
  /** http://[user:pass@]host:port or https://… (TLS to the proxy itself). */
  proxyUrl: string;
  /** The cloud's host and port the proxy connects to. */
  targetHost: string;
  targetPort: number;
  timeoutMs: number;
  /** CA bundle for an https:// proxy; system roots when absent. */
  proxyCa?: string;
}

/** Basic credentials from the proxy URL's user info (RFC 7617); never logged. */
function proxyAuthorization(url: URL): string | undefined {
  if (!url.username) return undefined;
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function hostForConnect(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Opens a TCP tunnel to the cloud through an HTTP proxy with CONNECT (RFC 9110 §9.3.6), as
 * corporate networks without direct egress require. The TLS session to the cloud runs inside the
 * tunnel end to end: the proxy sees only the host name. node:http parses the proxy's answer (with
 * its header size limit); a timeout bounds the whole exchange.
 */
export function openProxyTunnel(options: TunnelOptions): Promise<Duplex> {
  const proxy = new URL(options.proxyUrl);
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    return Promise.reject(
      new OutpostError(ErrorCodes.config, `proxy URL must be http:// or https://, got ${proxy.protocol}`),
    );
  }
  const authority = hostForConnect(options.targetHost, options.targetPort);
  const auth = proxyAuthorization(proxy);
  const secure = proxy.protocol === 'https:';
  const req = (secure ? httpsRequest : httpRequest)({
    host: proxy.hostname.replace(/^\[|\]$/g, ''),
    port: Number(proxy.port) || (secure ? 443 : 80),
    method: 'CONNECT',
    path: authority,
    headers: { host: authority, ...(auth ? { 'proxy-authorization': auth } : {}) },
    agent: false,
    ...(secure && options.proxyCa ? { ca: options.proxyCa } : {}),
  });
  return new Promise((resolve, reject) => {
    const fail = (message: string, cause?: unknown) =>
      reject(new OutpostError(ErrorCodes.unavailable, message, cause ? { cause } : undefined));
    const timer = setTimeout(() => {
      req.destroy();
      fail(`proxy CONNECT to ${authority} timed out`);
    }, options.timeoutMs);
    req.once('connect', (res, socket, head) => {
      clearTimeout(timer);
      if (res.statusCode !== 200) {
        socket.destroy();
        fail(`proxy refused CONNECT to ${authority} (HTTP ${res.statusCode})`);
        return;
      }
      // Bytes the proxy sent after its answer belong to the tunnel (none for a TLS client speaking first).
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once('error', (e) => {
      clearTimeout(timer);
      fail(`proxy ${proxy.host} unreachable: ${(e as NodeJS.ErrnoException).code ?? e.message}`, e);
    });
    req.end();
  });
}
