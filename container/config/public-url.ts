import { hostname } from 'node:os';
import { formatHostPort, isWildcardHost, parseListenAddress } from './listen-address.js';

/**
 * The base URL devices are told to use when `connector.scep.publicUrl` is not set. A wildcard
 * listen address is not reachable as such, so the host name stands in for it.
 */
export function derivePublicUrl(listen: string, hostName: string = hostname()): string {
  const address = parseListenAddress(listen);
  if (!address) return 'http://localhost';
  const host = isWildcardHost(address.host) ? hostName : address.host;
  return `http://${formatHostPort(host, address.port)}`;
}
