import type { Socket } from 'node:net';
import { MAX_PROXY_V2_BODY, ProxyHeaderError, parseProxyV2, startsLikeProxyV2 } from './proxy-v2.js';
import type { TrustedProxies } from './trusted-proxies.js';

/** Why a connection was refused before TLS; a fixed set, usable as a metric label. */
export type ProxyRefusal =
  | 'untrusted-header' // a PROXY header from an address not in trustedProxies
  | 'missing-header' // a trusted proxy that did not send one (every client would get its address)
  | 'malformed'
  | 'no-client-address' // PROXY over unspec/unix: nothing to ban, limit or log
  | 'timeout'
  | 'closed';

export type ProxyAdmission =
  | {
      readonly admitted: true;
      /** The client's address: the header's source, else the TCP peer. */
      readonly remoteAddress: string;
      readonly remotePort: number;
      /** The balancer that sent the header, when there was one. */
      readonly proxy?: string;
      /** `local`: the balancer's own health check (HAProxy `check-send-proxy`). */
      readonly local: boolean;
    }
  | { readonly admitted: false; readonly reason: ProxyRefusal; readonly detail: string };

export interface ProxyAdmissionOptions {
  readonly trusted: TrustedProxies;
  /** HAProxy writes the header with its first segment; a slow one is a client, not a balancer. */
  readonly timeoutMs: number;
  readonly maxBody?: number;
}

/**
 * Reads a PROXY v2 header, if any, from the first bytes of an accepted connection and decides
 * who the client is. Reads with 'readable' (not 'data') so the stream is left neither flowing nor
 * paused, and puts every byte after the header back with unshift(): whoever reads the socket next
 * (the TLS connection) sees the client's stream from its first byte. A trusted peer must send a
 * header and an untrusted one must not ("a header from anywhere else is refused"), so a direct
 * client still works beside the balancer, and nobody can claim another address.
 */
export function admitConnection(socket: Socket, options: ProxyAdmissionOptions): Promise<ProxyAdmission> {
  const peer = socket.remoteAddress ?? '';
  const peerPort = socket.remotePort ?? 0;
  const fromProxy = options.trusted.contains(peer);
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const finish = (result: ProxyAdmission, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(result);
    };
    const refuse = (reason: ProxyRefusal, detail: string): void =>
      finish({ admitted: false, reason, detail });
    const onEnd = (): void => refuse('closed', 'connection closed before the first bytes');
    const onReadable = (): void => {
      let chunk: Buffer | null;
      // biome-ignore lint/suspicious/noAssignInExpressions: the stream idiom for draining read()
      while ((chunk = socket.read() as Buffer | null) !== null) buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length === 0) return;
      decide();
    };
    const decide = (): void => {
      if (!startsLikeProxyV2(buffered)) {
        if (fromProxy) return refuse('missing-header', `trusted proxy ${peer} sent no PROXY v2 header`);
        return finish({ admitted: true, remoteAddress: peer, remotePort: peerPort, local: false }, buffered);
      }
      if (!fromProxy) return refuse('untrusted-header', `PROXY header from untrusted ${peer}`);
      try {
        const parse = parseProxyV2(buffered, options.maxBody ?? MAX_PROXY_V2_BODY);
        if (!parse.complete) return;
        const rest = buffered.subarray(parse.length);
        const { header } = parse;
        if (header.command === 'local') {
          return finish(
            { admitted: true, remoteAddress: peer, remotePort: peerPort, proxy: peer, local: true },
            rest,
          );
        }
        if (!header.source) return refuse('no-client-address', `PROXY over ${header.family} from ${peer}`);
        const { address, port } = header.source;
        finish({ admitted: true, remoteAddress: address, remotePort: port, proxy: peer, local: false }, rest);
      } catch (error) {
        // Only ProxyHeaderError is expected; anything else still refuses just this connection.
        refuse(
          'malformed',
          error instanceof ProxyHeaderError ? error.message : `unexpected: ${String(error)}`,
        );
      }
    };
    const timer = setTimeout(
      () => refuse('timeout', `no complete first bytes within ${options.timeoutMs} ms`),
      options.timeoutMs,
    );
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
  });
}
