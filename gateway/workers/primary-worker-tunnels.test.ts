import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CstpFrameDecoder, encodeFrame, FrameType } from '../cstp/index.js';
import { DtlsStats } from '../dtls/dtls-stats.js';
import type { Session } from '../session/session.js';
import { ChunkPool } from '../tls/chunk-pool.js';
import { loadEvp } from '../tls/evp.js';
import { gatewayTlsContextOptions } from '../tls/gateway-tls-context.js';
import { client, selfSignedP256, tryRenegotiation, until } from '../tls/testing/tls-client.js';
import { connectionOf, TakeoverRefusedError, TlsConnection } from '../tls/tls-connection.js';
import { MemoryTunDevice } from '../tun/testing/memory-tun-device.js';
import { icmpEchoRequest } from '../tun/testing/packets.js';
import { type WorkerChannel, WorkerTunnels } from './primary-worker-tunnels.js';
import { decodeKeys, encodeKeys, parsePrimaryMessage, parseWorkerMessage } from './protocol.js';
import { TunnelWorker } from './worker-tunnel-host.js';

const evp = loadEvp()!;
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
let cert: Buffer;
let key: Buffer;
let removeCert: () => void;

beforeAll(() => {
  ({ cert, key, remove: removeCert } = selfSignedP256());
});
afterAll(() => removeCert());

function session(id: string, ipv4: string): Session {
  return {
    id,
    identity: { username: `user-${id}`, groups: [], method: 'token' },
    remoteAddress: '127.0.0.1',
    cookieHash: id,
    createdAt: 0,
    state: 'connected',
    ipv4,
    lastActivity: 0,
    bytesIn: 0,
    bytesOut: 0,
    packetsIn: 0,
    packetsOut: 0,
  };
}

/**
 * The primary and one worker in one process: TlsConnection.handOff at CONNECT, WorkerTunnels on
 * the primary side, TunnelWorker on a MemoryTunDevice on the other, and between them a channel
 * that copies each message through V8 serialization (what `serialization: 'advanced'` IPC does)
 * and passes the socket object along as the handle.
 */
async function primaryAndWorker(options: { requestCert?: boolean; context?: SecureContextOptions } = {}) {
  const tun = new MemoryTunDevice();
  const closes: Array<{ id: string; reason: string }> = [];
  const refused: string[] = [];
  const sockets = new Set<Socket>();
  let worker: TunnelWorker;
  const tunnels = new WorkerTunnels({ dropped: () => undefined }, logger);
  const channel: WorkerChannel = {
    send: (message, socket) => queueMicrotask(() => worker.receive(deserialize(serialize(message)), socket)),
  };
  worker = new TunnelWorker({
    device: tun,
    recordLayer: { evp, pool: new ChunkPool(evp, 64 * 1024, 16) },
    maxQueuedBytes: 1 << 22,
    send: (message) => tunnels.receive(0, deserialize(serialize(message))),
    logger,
    statsIntervalMs: 50,
  });
  tunnels.attach(0, channel);
  const sessions: Session[] = [];
  const http = createHttpServer((req, res) => res.end(`hello ${req.url}`));
  http.on('connect', (_req, socket: TLSSocket, head: Buffer) => {
    const connection = connectionOf(socket)!;
    const s = session(`s${sessions.length + 1}`, `10.9.0.${sessions.length + 2}`);
    sessions.push(s);
    connection.handOff(Buffer.from('HTTP/1.1 200 CONNECTED\r\n\r\n'), head).then(
      (taken) =>
        tunnels.open(0, taken, {
          session: s,
          mtu: 1400,
          timers: { dpd: 30, idle: 600 },
          onClose: (reason) => closes.push({ id: s.id, reason }),
        }),
      (e) => {
        refused.push(e instanceof TakeoverRefusedError ? `refused: ${e.message}` : String(e));
        socket.end('HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n');
      },
    );
  });
  // The gateway's own context (gateway-tls-context.ts), unless a test overrides part of it.
  const secureContext = createSecureContext({
    ...gatewayTlsContextOptions({ cert, key, ...(options.requestCert ? { clientCa: [cert] } : {}) }),
    ...options.context,
  });
  const server: Server = createServer((raw) => {
    sockets.add(raw);
    const connection = new TlsConnection(raw, {
      secureContext,
      requestCert: options.requestCert ?? false,
      recordLayer: { evp, pool: new ChunkPool(evp, 64 * 1024, 16) },
      maxQueuedBytes: 1 << 22,
    });
    connection.tls.once('secure', () => http.emit('connection', connection.tls));
    connection.tls.on('error', () => raw.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    tun,
    tunnels,
    worker,
    sessions,
    closes,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        worker.close('server shutdown');
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('tunnels handed to a worker (in one process)', () => {
  it.each([
    ['TLS 1.3', { maxVersion: 'TLSv1.3' as const }],
    ['TLS 1.2 ChaCha20', { maxVersion: 'TLSv1.2' as const, ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' }],
  ])('%s: packets both ways, counters to the primary, terminate from the primary', async (_, tls) => {
    const h = await primaryAndWorker();
    try {
      const c = await client(h.port, tls);
      // Frames sent at once after the answer may reach the primary before the hand-off: they
      // must arrive in the worker all the same.
      const packets = Array.from({ length: 20 }, (_, i) => icmpEchoRequest('10.9.0.2', '10.200.2.2', 7, i));
      for (const p of packets) c.socket.write(encodeFrame(FrameType.data, p));
      await until(() => h.tun.written.length === packets.length, 'the packets in the worker TUN');
      expect(h.tun.takeWritten().map((b) => b.toString('hex'))).toEqual(
        packets.map((b) => b.toString('hex')),
      );

      h.tun.inject([
        icmpEchoRequest('10.200.2.2', '10.9.0.2', 8, 1),
        icmpEchoRequest('10.200.2.2', '10.9.0.99', 8, 2),
      ]);
      const frames: Array<{ type: number; payload: Buffer }> = [];
      const decoder = new CstpFrameDecoder({ maxPayload: 16000 });
      await until(() => {
        for (const chunk of c.received.splice(0))
          decoder.pushEach(chunk, (f) => frames.push({ type: f.type, payload: Buffer.from(f.payload) }));
        return frames.length >= 1;
      }, 'the packet for the client');
      expect(frames[0]!.payload[19]).toBe(2); // to 10.9.0.2; the one for .99 had no tunnel

      const s = h.sessions[0]!;
      await until(() => s.packetsIn === 20 && s.packetsOut === 1, 'counters at the primary');
      expect(s.bytesIn).toBe(packets.reduce((n, p) => n + p.length, 0));

      const ended = new Promise<void>((resolve) => c.socket.once('close', () => resolve()));
      s.disconnect!('revoked by the cloud');
      await ended;
      for (const chunk of c.received.splice(0))
        decoder.pushEach(chunk, (f) => frames.push({ type: f.type, payload: Buffer.from(f.payload) }));
      // The DISCONNECT with the reason's text, sent by the worker (gateway/cstp/disconnect.ts).
      expect(frames.at(-1)).toEqual({
        type: FrameType.disconnect,
        payload: Buffer.from('b07265766f6b65642062792074686520636c6f7564', 'hex'),
      });
      await until(() => h.closes.length === 1, 'the end at the primary');
      expect(h.closes).toEqual([{ id: 's1', reason: 'revoked by the cloud' }]);
      expect(h.tunnels.size).toBe(0);
      expect(h.worker.size).toBe(0);
    } finally {
      await h.close();
    }
  });

  it('refuses a CBC suite before answering CONNECT (it cannot leave OpenSSL; the gateway offers none)', async () => {
    const h = await primaryAndWorker({ context: { ciphers: 'ECDHE-ECDSA-AES128-SHA256' } });
    try {
      // The client waits for a 200 that never comes; it is left to the harness to close.
      void client(h.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' }).catch(
        () => undefined,
      );
      await until(() => h.refused.length === 1, 'the refusal');
      expect(h.refused[0]).toMatch(/^refused: cipher suite 0xc023/);
      expect(h.tunnels.size).toBe(0);
    } finally {
      await h.close();
    }
  });

  it.each([
    ['TLS 1.2', 'TLSv1.2' as const],
    ['TLS 1.3', 'TLSv1.3' as const],
  ])(
    '%s: a resumed session with a client certificate is handed to the worker and carries packets',
    async (_, maxVersion) => {
      const h = await primaryAndWorker({ requestCert: true });
      try {
        const first = await client(h.port, { maxVersion, cert, key });
        await until(() => first.session !== undefined, 'a session ticket');
        first.socket.destroy();
        const second = await client(h.port, { maxVersion, cert, key, session: first.session! });
        expect(second.socket.isSessionReused()).toBe(true);
        const packet = icmpEchoRequest('10.9.0.3', '10.200.2.2', 9, 1);
        second.socket.write(encodeFrame(FrameType.data, packet));
        await until(() => h.tun.written.length === 1, 'the packet in the worker TUN');
        expect(h.tun.takeWritten()[0]!.equals(packet)).toBe(true);
        expect(h.refused).toEqual([]);
        second.socket.destroy();
      } finally {
        await h.close();
      }
    },
  );

  it('a renegotiation attempt before CONNECT is refused; CONNECTs after it are answered and handed off', async () => {
    // With renegotiation allowed, a renegotiated connection's CONNECT got no answer with workers
    // ("client sequence number not found"): OpenSSL now refuses it with a no_renegotiation alert.
    const h = await primaryAndWorker({ requestCert: true });
    try {
      expect(await tryRenegotiation(h.port)).toMatch(/no renegotiation/);
      const c = await client(h.port, { maxVersion: 'TLSv1.2' });
      const packet = icmpEchoRequest('10.9.0.2', '10.200.2.2', 9, 2);
      c.socket.write(encodeFrame(FrameType.data, packet));
      await until(() => h.tun.written.length === 1, 'the packet in the worker TUN');
      expect(h.refused).toEqual([]);
      c.socket.destroy();
    } finally {
      await h.close();
    }
  });

  it('a client that goes away ends its tunnel in the worker and at the primary', async () => {
    const h = await primaryAndWorker();
    try {
      const c = await client(h.port, { maxVersion: 'TLSv1.3' });
      await until(() => h.worker.size === 1, 'the tunnel in the worker');
      c.socket.destroy();
      await until(() => h.closes.length === 1, 'the end at the primary');
      expect(h.closes[0]!.reason).toBe('connection closed');
    } finally {
      await h.close();
    }
  });
});

describe('WorkerTunnels bookkeeping', () => {
  const fakeTaken = () => {
    const socket = { destroy: () => undefined } as unknown as Socket;
    const keys = decodeKeys({
      suite: 0x1301,
      version: 'TLSv1.3',
      client: { key: Buffer.alloc(16), iv: Buffer.alloc(12), secret: Buffer.alloc(32) },
      server: { key: Buffer.alloc(16), iv: Buffer.alloc(12), secret: Buffer.alloc(32) },
    });
    return { socket, keys, sequences: { client: 1, server: 2 }, pending: [], head: Buffer.alloc(0) };
  };

  it('ignores the late end of a replaced tunnel, ends the current one when its worker dies', () => {
    const sent: unknown[] = [];
    const tunnels = new WorkerTunnels({ dropped: () => undefined }, logger);
    tunnels.attach(1, { send: (m) => sent.push(m) });
    const s = session('a', '10.9.0.2');
    const closes: string[] = [];
    const start = {
      session: s,
      mtu: 1400,
      timers: { dpd: 30, idle: 600 },
      onClose: (r: string) => closes.push(r),
    };
    tunnels.open(1, fakeTaken(), start);
    tunnels.open(1, fakeTaken(), start); // a reconnect replaces the first tunnel
    expect(sent.map((m) => (m as { type: string }).type)).toEqual(['open', 'terminate', 'open']);
    tunnels.receive(1, {
      type: 'closed',
      tunnel: 1,
      reason: 'replaced by a new connection',
      counters: [10, 20, 1, 2],
    });
    expect(closes).toEqual([]);
    expect(s.bytesIn).toBe(10); // its traffic still counts
    tunnels.receive(1, { type: 'stats', tunnels: [[2, 5, 5, 1, 1]], drops: {}, tlsFailures: {}, opened: 2 });
    tunnels.receive(1, { type: 'stats', tunnels: [[2, 7, 5, 2, 1]], drops: {}, tlsFailures: {}, opened: 0 });
    expect([s.bytesIn, s.bytesOut, s.packetsIn, s.packetsOut]).toEqual([17, 25, 3, 3]);
    tunnels.detach(1, 'gateway worker exited');
    expect(closes).toEqual(['gateway worker exited']);
    expect(tunnels.available(1)).toBe(false);
    expect(tunnels.size).toBe(0);
  });

  it("adds a worker's drops by reason and channel, and its DTLS counts, ignoring keys it does not know", () => {
    const drops: string[] = [];
    const dtls = new DtlsStats();
    const tunnels = new WorkerTunnels(
      { dropped: (reason, n = 1, channel = 'tls') => drops.push(`${reason}:${channel}:${n}`) },
      logger,
      dtls,
    );
    const counts = new DtlsStats();
    counts.packetsOut = 9;
    counts.drops.replay = 2;
    tunnels.receive(1, {
      type: 'stats',
      tunnels: [],
      drops: { spoofed: 1, 'backpressure/dtls': 3, 'spoofed/udp': 4, made_up: 5 },
      tlsFailures: {},
      opened: 0,
      dtls: counts.take(),
    });
    expect(drops).toEqual(['spoofed:tls:1', 'backpressure:dtls:3']);
    expect([dtls.packetsOut, dtls.drops.replay]).toEqual([9, 2]);
  });

  it('shuts workers down with one message each, not one per session', () => {
    const sent: Array<{ worker: number; type: string }> = [];
    const tunnels = new WorkerTunnels({ dropped: () => undefined }, logger);
    for (const worker of [0, 1]) tunnels.attach(worker, { send: (m) => sent.push({ worker, type: m.type }) });
    const sessions = [session('x', '10.9.0.5'), session('y', '10.9.0.6'), session('z', '10.9.0.7')];
    sessions.forEach((s, i) => {
      tunnels.open(i % 2, fakeTaken(), {
        session: s,
        mtu: 1400,
        timers: { dpd: 30, idle: 600 },
        onClose: () => undefined,
      });
    });
    sent.length = 0;
    tunnels.shutdown();
    for (const s of sessions) s.disconnect?.('server shutdown');
    expect(sent).toEqual([
      { worker: 0, type: 'shutdown' },
      { worker: 1, type: 'shutdown' },
    ]);
  });

  it('ends a tunnel at once when its worker is not running', () => {
    const tunnels = new WorkerTunnels({ dropped: () => undefined }, logger);
    const closes: string[] = [];
    tunnels.open(3, fakeTaken(), {
      session: session('b', '10.9.0.3'),
      mtu: 1400,
      timers: { dpd: 30, idle: 600 },
      onClose: (r) => closes.push(r),
    });
    expect(closes).toEqual(['gateway worker 3 unavailable: worker not running']);
  });

  it('ignores messages of another worker or of no known shape', () => {
    const tunnels = new WorkerTunnels({ dropped: () => undefined }, logger);
    tunnels.attach(0, { send: () => undefined });
    const closes: string[] = [];
    tunnels.open(0, fakeTaken(), {
      session: session('c', '10.9.0.4'),
      mtu: 1400,
      timers: { dpd: 30, idle: 600 },
      onClose: (r) => closes.push(r),
    });
    tunnels.receive(1, { type: 'closed', tunnel: 1, reason: 'not yours', counters: [0, 0, 0, 0] });
    tunnels.receive(0, { type: 'closed', tunnel: 1, reason: 'x', counters: [-1, 0, 0, 0] });
    tunnels.receive(0, 'garbage');
    expect(closes).toEqual([]);
  });
});

describe('worker protocol', () => {
  it('never throws on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(() => parsePrimaryMessage(value)).not.toThrow();
        expect(() => parseWorkerMessage(value)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });

  it('carries record keys through V8 serialization unchanged', () => {
    const keys = decodeKeys({
      suite: 0xcca8,
      version: 'TLSv1.2',
      client: { key: Buffer.alloc(32, 1), iv: Buffer.alloc(12, 2) },
      server: { key: Buffer.alloc(32, 3), iv: Buffer.alloc(12, 4) },
    });
    const back = decodeKeys(deserialize(serialize(encodeKeys(keys))));
    expect(back.suite.name).toBe('TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256');
    expect(back.client.keys.key.equals(keys.client.keys.key)).toBe(true);
    expect(back.server.keys.iv.equals(keys.server.keys.iv)).toBe(true);
    expect(() => decodeKeys({ ...encodeKeys(keys), suite: 0xc023 })).toThrow(/unsupported cipher suite/);
  });

  it('refuses oversized or malformed open messages', () => {
    const base = {
      type: 'open',
      tunnel: 1,
      session: { id: 's', username: 'u', remote: '1.2.3.4', ipv4: '10.0.0.2' },
      mtu: 1400,
      timers: { dpd: 30, idle: 600 },
      keys: encodeKeys(fakeKeys()),
      sequences: { client: 0, server: 0 },
      pending: [],
      head: Buffer.alloc(0),
    };
    expect(parsePrimaryMessage(base).message).toBeDefined();
    expect(parsePrimaryMessage({ ...base, head: Buffer.alloc((1 << 20) + 1) }).error).toMatch(/at most/);
    expect(parsePrimaryMessage({ ...base, mtu: 100 }).error).toBeDefined();
    expect(parsePrimaryMessage({ ...base, extra: 1 }).error).toBeDefined();
  });
});

function fakeKeys() {
  return decodeKeys({
    suite: 0x1301,
    version: 'TLSv1.3',
    client: { key: Buffer.alloc(16), iv: Buffer.alloc(12) },
    server: { key: Buffer.alloc(16), iv: Buffer.alloc(12) },
  });
}
