import { createSocket, type Socket } from 'node:dgram';
import type { Evp } from '../../tls/evp.js';
import type { DtlsChannel } from '../dtls-channel.js';
import { type DtlsDrop, DtlsEndpoint, type DtlsEvent, type DtlsPeerSession } from '../dtls-endpoint.js';
import type { DtlsSessionParams } from '../server-handshake.js';

export interface EchoServer {
  port: number;
  drops: DtlsDrop[];
  events: DtlsEvent[];
  channels: DtlsChannel[];
  received: Buffer[];
  endpoint: DtlsEndpoint;
  close(): Promise<void>;
}

/**
 * A UDP DTLS server for tests against real clients (openssl s_client, gnutls-cli): one session
 * with `params`, whatever application ID the client names (s_client sends none); every record of
 * application data is echoed back upper-cased.
 */
export async function startEchoServer(evp: Evp, params: DtlsSessionParams, port = 0): Promise<EchoServer> {
  const socket: Socket = createSocket('udp4');
  const drops: DtlsDrop[] = [];
  const events: DtlsEvent[] = [];
  const channels: DtlsChannel[] = [];
  const received: Buffer[] = [];
  const session: DtlsPeerSession = {
    params,
    established(channel) {
      channels.push(channel);
      channel.setHandlers({
        data(buffer, start, end) {
          const payload = Buffer.from(buffer.subarray(start, end));
          received.push(payload);
          channel.sendPayload(Buffer.from(payload.toString('latin1').toUpperCase(), 'latin1'));
        },
        closed() {},
      });
    },
  };
  const endpoint = new DtlsEndpoint({
    evp,
    lookup: () => session,
    send: (datagram, length, address, p) => socket.send(datagram.subarray(0, length), p, address),
    onDrop: (r) => drops.push(r),
    onEvent: (e) => events.push(e),
  });
  socket.on('message', (msg, rinfo) => endpoint.receive(msg, rinfo.address, rinfo.port, Date.now()));
  const timer = setInterval(() => endpoint.tick(Date.now()), 100);
  await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    drops,
    events,
    channels,
    received,
    endpoint,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        endpoint.close();
        socket.close(() => resolve());
      }),
  };
}
