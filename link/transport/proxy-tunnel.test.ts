import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openProxyTunnel } from './proxy-tunnel.js';

const servers: Array<Server | TcpServer> = [];
const sockets = new Set<Socket>();

async function listen<T extends Server | TcpServer>(server: T): Promise<number> {
  servers.push(server);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** An echo server standing in for the cloud. */
const echo = () => listen(createTcpServer((s) => s.pipe(s)));

/** A proxy answering CONNECT per `answer`; records the request lines and headers it saw. */
async function proxy(answer: 'tunnel' | number | 'silent', seen: Array<{ url?: string; auth?: string }>) {
  const server = createHttpServer();
  server.on('connect', (req, client: Socket) => {
    seen.push({
      url: req.url,
      ...(req.headers['proxy-authorization'] ? { auth: req.headers['proxy-authorization'] } : {}),
    });
    if (answer === 'silent') return;
    if (typeof answer === 'number') {
      client.end(`HTTP/1.1 ${answer} No\r\n\r\n`);
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
  });
  return listen(server);
}

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('openProxyTunnel', () => {
  it('opens a CONNECT tunnel with Basic credentials from the URL, and bytes flow end to end', async () => {
    const target = await echo();
    const seen: Array<{ url?: string; auth?: string }> = [];
    const proxyPort = await proxy('tunnel', seen);
    const tunnel = await openProxyTunnel({
      proxyUrl: `http://us%40er:p%3Ass@127.0.0.1:${proxyPort}`,
      targetHost: '127.0.0.1',
      targetPort: target,
      timeoutMs: 5_000,
    });
    const echoed = new Promise<string>((resolve) =>
      tunnel.once('data', (d: Buffer) => resolve(d.toString())),
    );
    tunnel.write('ping');
    expect(await echoed).toBe('ping');
    tunnel.destroy();
    expect(seen).toEqual([
      { url: `127.0.0.1:${target}`, auth: `Basic ${Buffer.from('us@er:p:ss').toString('base64')}` },
    ]);
  });

  it.each([
    [407, /refused CONNECT .* \(HTTP 407\)/],
    [403, /refused CONNECT .* \(HTTP 403\)/],
  ])('reports a proxy answering %i as unavailable', async (status, message) => {
    const proxyPort = await proxy(status, []);
    const failure = openProxyTunnel({
      proxyUrl: `http://127.0.0.1:${proxyPort}`,
      targetHost: '127.0.0.1',
      targetPort: 9,
      timeoutMs: 5_000,
    });
    await expect(failure).rejects.toMatchObject({
      code: 'OUTPOST_ERR_UNAVAILABLE',
      message: expect.stringMatching(message),
    });
  });

  it('gives up on a proxy that never answers within the time limit', async () => {
    const proxyPort = await proxy('silent', []);
    const failure = openProxyTunnel({
      proxyUrl: `http://127.0.0.1:${proxyPort}`,
      targetHost: '127.0.0.1',
      targetPort: 9,
      timeoutMs: 100,
    });
    await expect(failure).rejects.toMatchObject({
      code: 'OUTPOST_ERR_UNAVAILABLE',
      message: expect.stringContaining('timed out'),
    });
  });

  it('reports an unreachable proxy, and refuses a proxy URL of another scheme', async () => {
    const closedPort = await echo();
    await new Promise((r) => servers.pop()!.close(r));
    await expect(
      openProxyTunnel({
        proxyUrl: `http://127.0.0.1:${closedPort}`,
        targetHost: 'h',
        targetPort: 1,
        timeoutMs: 2_000,
      }),
    ).rejects.toMatchObject({
      code: 'OUTPOST_ERR_UNAVAILABLE',
      message: expect.stringContaining('ECONNREFUSED'),
    });
    await expect(
      openProxyTunnel({
        proxyUrl: 'socks5://127.0.0.1:1080',
        targetHost: 'h',
        targetPort: 1,
        timeoutMs: 2_000,
      }),
    ).rejects.toMatchObject({ code: 'OUTPOST_ERR_CONFIG' });
  });
});
