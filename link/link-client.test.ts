import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { seededRandom } from './backoff.js';
import { LinkClient } from './link-client.js';
import { LinkTestPki } from './testing/link-pki.js';

const logger = pino({ level: 'silent' });

let pki: LinkTestPki;
let server: Server;
let wss: WebSocketServer;
let port: number;
let client: LinkClient | undefined;
const peers: string[] = [];
const serverSockets: WebSocket[] = [];

/** A TLS WebSocket server that requires a client certificate from the test CA (like the cloud). */
async function startServer(options: { autoPong: boolean }): Promise<void> {
  server = createServer({
    key: pki.read('server.key'),
    cert: pki.read('server.pem'),
    ca: pki.read('ca.pem'),
    requestCert: true,
    rejectUnauthorized: true,
  });
  wss = new WebSocketServer({ server, autoPong: options.autoPong });
  wss.on('connection', (ws, req) => {
    const cert = (req.socket as TLSSocket).getPeerCertificate();
    peers.push(String(cert.subject?.CN ?? ''));
    serverSockets.push(ws);
    ws.on('message', (data) => ws.send(`echo:${data.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
}

async function stopServer(): Promise<void> {
  for (const ws of serverSockets.splice(0)) ws.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function makeClient(pingIntervalMs = 60_000) {
  const received: string[] = [];
  const opened: Array<(text: string) => void> = [];
  let closes = 0;
  const c = new LinkClient({
    url: new URL(`wss://127.0.0.1:${port}/v1/link`),
    tls: () => ({ key: pki.read('agent.key'), cert: pki.read('agent.pem'), ca: pki.read('ca.pem') }),
    logger,
    backoff: { baseMs: 20, capMs: 200 },
    random: seededRandom(3),
    pingIntervalMs,
    handshakeTimeoutMs: 5_000,
    onOpen: (socket) => {
      opened.push((text) => socket.send(text));
      return { receive: (data) => received.push(data.toString()), closed: () => closes++ };
    },
  });
  client = c;
  return { c, received, opened, closes: () => closes };
}

async function until(probe: () => boolean): Promise<void> {
  while (!probe()) await new Promise((r) => setTimeout(r, 10));
}

beforeAll(() => {
  pki = new LinkTestPki('appl-client-test');
});
afterAll(() => pki.cleanup());
afterEach(async () => {
  await client?.stop();
  client = undefined;
  peers.length = 0;
  await stopServer();
});

describe('LinkClient', () => {
  it('connects with mutual TLS (the server sees the agent certificate) and exchanges messages', async () => {
    await startServer({ autoPong: true });
    const { c, received, opened } = makeClient();
    c.start();
    await until(() => opened.length === 1);
    expect(peers).toEqual(['appl-client-test']);
    opened[0]!('hello');
    await until(() => received.length === 1);
    expect(received).toEqual(['echo:hello']);
    expect(c.connected).toBe(true);
  });

  it('reconnects after the server drops the connection', async () => {
    await startServer({ autoPong: true });
    const { c, opened, closes } = makeClient();
    c.start();
    await until(() => opened.length === 1);
    serverSockets[0]!.terminate();
    await until(() => opened.length === 2);
    expect(closes()).toBe(1);
    expect(c.connects).toBe(2);
  });

  it('keeps retrying while the server is away and connects once it is back', async () => {
    await startServer({ autoPong: true });
    const first = port;
    await stopServer();
    const { c, opened } = makeClient();
    c.start();
    await new Promise((r) => setTimeout(r, 100)); // several refused attempts
    expect(opened).toHaveLength(0);
    server = createServer({
      key: pki.read('server.key'),
      cert: pki.read('server.pem'),
      ca: pki.read('ca.pem'),
      requestCert: true,
    });
    wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => serverSockets.push(ws));
    await new Promise<void>((resolve) => server.listen(first, '127.0.0.1', resolve));
    await until(() => opened.length === 1);
  });

  it('measures the ping round trip, and drops a connection whose pong never comes', async () => {
    await startServer({ autoPong: true });
    const live = makeClient(50);
    live.c.start();
    await until(() => live.c.latencyMs !== null);
    expect(live.c.latencyMs).toBeGreaterThanOrEqual(0);
    await live.c.stop();
    await stopServer();

    await startServer({ autoPong: false });
    const dead = makeClient(50);
    dead.c.start();
    await until(() => dead.opened.length === 1);
    // No pong: the client terminates the socket itself and reconnects.
    await until(() => dead.opened.length === 2);
    expect(dead.closes()).toBeGreaterThanOrEqual(1);
  });

  it('refuses a server whose certificate is not from the pinned CA', async () => {
    await startServer({ autoPong: true });
    const other = new LinkTestPki('x');
    try {
      const c = new LinkClient({
        url: new URL(`wss://127.0.0.1:${port}/v1/link`),
        tls: () => ({ key: pki.read('agent.key'), cert: pki.read('agent.pem'), ca: other.read('ca.pem') }),
        logger,
        backoff: { baseMs: 20, capMs: 50 },
        pingIntervalMs: 60_000,
        handshakeTimeoutMs: 5_000,
        onOpen: () => {
          throw new Error('must not open');
        },
      });
      client = c;
      c.start();
      await new Promise((r) => setTimeout(r, 150));
      expect(c.connects).toBe(0);
      expect(peers).toEqual([]);
    } finally {
      other.cleanup();
    }
  });

  it('stop() closes the socket and no reconnect follows', async () => {
    await startServer({ autoPong: true });
    const { c, opened } = makeClient();
    c.start();
    await until(() => opened.length === 1);
    await c.stop();
    expect(c.connected).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(opened).toHaveLength(1);
  });
});
