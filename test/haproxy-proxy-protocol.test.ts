import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitConnection, type ProxyAdmission } from '../gateway/proxy/proxy-admission.js';
import { TrustedProxies } from '../gateway/proxy/trusted-proxies.js';
import { freePort } from './testing/appliance.js';
import { type RunningHaproxy, startHaproxy } from './testing/haproxy.js';
import { requirePeers } from './testing/peers.js';

requirePeers('haproxy');

/**
 * The PROXY v2 header as the real HAProxy 2.6 writes it (`send-proxy-v2`, TCP mode), read by the
 * gateway's admission: the server learns the client's own address, and the TLS bytes that follow
 * arrive untouched.
 */
let backend: Server;
let haproxy: RunningHaproxy;
let frontPort: number;
const admissions: ProxyAdmission[] = [];

beforeAll(async () => {
  const trusted = new TrustedProxies(['127.0.0.1']);
  backend = createServer(async (socket: Socket) => {
    const admission = await admitConnection(socket, { trusted, timeoutMs: 5000 });
    admissions.push(admission);
    if (!admission.admitted) return socket.destroy();
    socket.on('data', (d: Buffer) =>
      socket.write(Buffer.concat([Buffer.from(`${admission.remoteAddress}|`), d])),
    );
    socket.on('end', () => socket.end());
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  frontPort = await freePort();
  haproxy = await startHaproxy({
    frontends: [
      {
        name: 'gw',
        mode: 'tcp',
        bind: `127.0.0.1:${frontPort}`,
        sendProxyV2: true,
        servers: [{ name: 'node_a', address: `127.0.0.1:${(backend.address() as AddressInfo).port}` }],
      },
    ],
  });
});

afterAll(async () => {
  await haproxy?.stop();
  backend?.close();
});

async function exchange(localAddress: string, payload: Buffer): Promise<string> {
  const client = connect({ port: frontPort, host: '127.0.0.1', localAddress });
  await once(client, 'connect');
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  client.end(payload);
  await once(client, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

describe('HAProxy send-proxy-v2', () => {
  it.each(['127.0.0.2', '127.0.0.3'])('hands the server the client address %s', async (address) => {
    const hello = Buffer.from('16030100050102030405', 'hex');
    const answer = await exchange(address, hello);
    expect(answer).toBe(`${address}|${hello.toString('latin1')}`);
    expect(admissions.at(-1)).toMatchObject({ admitted: true, remoteAddress: address, proxy: '127.0.0.1' });
  });
});
