import { isIPv6 } from 'node:net';

/** A `host:port` listen address, split. IPv6 hosts are written in brackets: `[::]:8443`. */
export interface ListenAddress {
  host: string;
  port: number;
}

const LISTEN_PATTERN = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** Parses `host:port`; returns undefined (not an error) so schemas can report it their way. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = LISTEN_PATTERN.exec(text);
  if (!match) return undefined;
  const [, bracketed, plain, portText] = match;
  const port = Number(portText);
  if (port > 65535) return undefined;
  if (bracketed !== undefined && !isIPv6(bracketed)) return undefined;
  return { host: bracketed ?? plain!, port };
}

/** True for addresses that mean "every interface", which a client cannot connect to. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** `host:port` back to text, bracketing IPv6 so it can go into a URL. */
export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
