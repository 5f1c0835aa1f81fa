import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface RunningProxy {
  url: string;
  /** host:port of every CONNECT the proxy accepted, in order. */
  connects: string[];
  /** CONNECTs refused for missing or wrong credentials. */
  refused: number;
  stop(): Promise<void>;
}

/**
 * A minimal HTTP CONNECT proxy (RFC 9110 §9.3.6) on loopback, standing in for a corporate proxy:
 * tunnels only to loopback targets, optionally requires Basic credentials, counts what it did.
 */
export async function startConnectProxy(options: { credentials?: string } = {}): Promise<RunningProxy> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const state = { refused: 0 };
  const server: Server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const expected = options.credentials
      ? `Basic ${Buffer.from(options.credentials).toString('base64')}`
      : undefined;
    if (expected && req.headers['proxy-authorization'] !== expected) {
      state.refused++;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n');
      return;
    }
    const [host, portText] = splitAuthority(req.url ?? '');
    if (host !== '127.0.0.1' && host !== 'localhost') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(Number(portText), host, () => {
      connects.push(`${host}:${portText}`);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = options.credentials
    ? `http://${options.credentials}@127.0.0.1:${port}`
    : `http://127.0.0.1:${port}`;
  return {
    url,
    connects,
    get refused() {
      return state.refused;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function splitAuthority(authority: string): [string, string] {
  const at = authority.lastIndexOf(':');
  return [authority.slice(0, at).replace(/^\[|\]$/g, ''), authority.slice(at + 1)];
}
