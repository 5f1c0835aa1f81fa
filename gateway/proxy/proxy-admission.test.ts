import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitConnection, type ProxyAdmission } from './proxy-admission.js';
import { encodeProxyV2 } from './proxy-v2.js';
import { TrustedProxies } from './trusted-proxies.js';

/** Real loopback sockets: the admission reads the accepted socket as the gateway will. */
let server: Server;
const accepted: ((socket: Socket) => void)[] = [];
beforeAll(async () => {
  server = createServer((socket) => accepted.shift()?.(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
afterAll(() => server.close());

const tcp4 = encodeProxyV2({
  command: 'proxy',
  source: { address: '203.0.113.9', port: 40001 },
  destination: { address: '127.0.0.1', port: 443 },
});
const clientHello = Buffer.from('16030100050102030405', 'hex');

interface Outcome {
  admission: ProxyAdmission;
  /** What the next reader of the socket gets, up to the client's end. */
  after: Buffer;
}

async function admit(trusted: string[], writes: Buffer[], timeoutMs = 2000, end = true): Promise<Outcome> {
  const serverSide = new Promise<Socket>((resolve) => accepted.push(resolve));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const socket = await serverSide;
  const admission = admitConnection(socket, { trusted: new TrustedProxies(trusted), timeoutMs });
  for (const chunk of writes) {
    client.write(chunk);
    await new Promise((r) => setTimeout(r, 5));
  }
  const result = await admission;
  const chunks: Buffer[] = [];
  if (result.admitted) {
    socket.on('data', (c: Buffer) => chunks.push(c));
    if (end) client.end();
    await once(socket, 'end');
  }
  client.destroy();
  socket.destroy();
  return { admission: result, after: Buffer.concat(chunks) };
}

describe('admitConnection', () => {
  it('takes the client address from a trusted proxy and leaves the TLS bytes in place', async () => {
    const { admission, after } = await admit(['127.0.0.0/8'], [Buffer.concat([tcp4, clientHello])]);
    expect(admission).toMatchObject({
      admitted: true,
      remoteAddress: '203.0.113.9',
      remotePort: 40001,
      proxy: '127.0.0.1',
    });
    expect(after).toEqual(clientHello);
  });

  it('reads a header split into single bytes', async () => {
    const bytes = Buffer.concat([tcp4, clientHello]);
    const writes = [...bytes].map((b) => Buffer.from([b]));
    const { admission, after } = await admit(['127.0.0.1'], writes);
    expect(admission).toMatchObject({ admitted: true, remoteAddress: '203.0.113.9' });
    expect(after).toEqual(clientHello);
  });

  it('lets a direct client in with its own address when it sends no header', async () => {
    const { admission, after } = await admit(['192.0.2.0/24'], [clientHello]);
    expect(admission).toMatchObject({ admitted: true, remoteAddress: '127.0.0.1', local: false });
    expect(admission).not.toHaveProperty('proxy');
    expect(after).toEqual(clientHello);
  });

  it.each([
    ['a header from an untrusted address', ['192.0.2.0/24'], [tcp4], 'untrusted-header'],
    ['a trusted proxy without a header', ['127.0.0.1'], [clientHello], 'missing-header'],
    [
      'a header with a bad version',
      ['127.0.0.1'],
      [Buffer.concat([tcp4.subarray(0, 12), Buffer.from([0x11])])],
      'malformed',
    ],
    [
      'PROXY without addresses',
      ['127.0.0.1'],
      [Buffer.from('0d0a0d0a000d0a515549540a21000000', 'hex')],
      'no-client-address',
    ],
  ])('refuses %s', async (_name, trusted, writes, reason) => {
    const { admission } = await admit(trusted, writes);
    expect(admission).toMatchObject({ admitted: false, reason });
  });

  it('uses the peer for a LOCAL health check', async () => {
    const local = encodeProxyV2({ command: 'local' });
    const { admission } = await admit(['127.0.0.1'], [local]);
    expect(admission).toMatchObject({ admitted: true, remoteAddress: '127.0.0.1', local: true });
  });

  it('gives up on a header that never completes', async () => {
    const { admission } = await admit(['127.0.0.1'], [tcp4.subarray(0, 20)], 100);
    expect(admission).toMatchObject({ admitted: false, reason: 'timeout' });
  });

  it('notices a client that leaves before sending anything', async () => {
    const serverSide = new Promise<Socket>((resolve) => accepted.push(resolve));
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const socket = await serverSide;
    const admission = admitConnection(socket, { trusted: new TrustedProxies([]), timeoutMs: 2000 });
    client.end();
    expect(await admission).toMatchObject({ admitted: false, reason: 'closed' });
    socket.destroy();
  });
});
