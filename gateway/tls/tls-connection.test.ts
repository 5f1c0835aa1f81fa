import { randomBytes, X509Certificate } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import {
  createSecureContext,
  type SecureContextOptions,
  type TLSSocket,
  connect as tlsConnect,
} from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CstpFrameDecoder, encodeFrame, FrameType } from '../cstp/index.js';
import type { TlsFailure } from '../tunnel/counters.js';
import type { TunnelTransport } from '../tunnel/transport.js';
import { ChunkPool } from './chunk-pool.js';
import { loadEvp } from './evp.js';
import { gatewayTlsContextOptions, tls12Suites } from './gateway-tls-context.js';
import {
  client,
  echoedPayloads,
  echoes,
  selfSignedP256,
  tryRenegotiation,
  until,
} from './testing/tls-client.js';
import { connectionOf, TlsConnection } from './tls-connection.js';

const evp = loadEvp()!;
let cert: Buffer;
let key: Buffer;
let removeCert: () => void;

beforeAll(() => {
  ({ cert, key, remove: removeCert } = selfSignedP256());
});
afterAll(() => removeCert());

interface Harness {
  port: number;
  /** Transports made for CONNECTs, in order, with the reason a takeover was not made. */
  tunnels: Array<{ transport: TunnelTransport; notTakenOver?: string; closed: Promise<string> }>;
  failures: TlsFailure[];
  close(): Promise<void>;
}

/**
 * The gateway's connection handling without the gateway: TLS via TlsConnection, HTTP via Node's
 * server, and at CONNECT the takeover; each tunnel echoes every CSTP frame back.
 */
async function harness(
  options: {
    recordLayer?: boolean;
    keyUpdateAfter?: number;
    /** Ask for client certificates (trusting the test certificate), as certificate auth does. */
    requestCert?: boolean;
    /** Overrides of the gateway's context options (a legacy suite list, say). */
    context?: SecureContextOptions;
    /** Called with each HTTP request's connection, before it is answered. */
    onRequest?: (connection: TlsConnection) => void;
  } = {},
): Promise<Harness> {
  const failures: TlsFailure[] = [];
  const tunnels: Harness['tunnels'] = [];
  const pool = new ChunkPool(evp, 64 * 1024, 16);
  const http = createHttpServer((req, res) => {
    options.onRequest?.(connectionOf(req.socket)!);
    res.end(`hello ${req.url}`);
  });
  // One context for all connections, the gateway's own: TLS 1.2 tickets are keyed by it.
  const secureContext = createSecureContext({
    ...gatewayTlsContextOptions({ cert, key, ...(options.requestCert ? { clientCa: [cert] } : {}) }),
    ...options.context,
  });
  const sockets = new Set<Socket>();
  http.on('connect', (_req, socket: TLSSocket, head: Buffer) => {
    const connection = connectionOf(socket)!;
    void connection.startTunnel(Buffer.from('HTTP/1.1 200 CONNECTED\r\n\r\n'), head).then((started) => {
      const { transport } = started;
      const decoder = new CstpFrameDecoder({ maxPayload: 16000 });
      const closed = new Promise<string>((resolve) =>
        transport.setHandlers({
          data: (buffer, start, end) =>
            decoder.pushEach(buffer.subarray(start, end), (frame) =>
              transport.sendFrame(frame.type, Buffer.from(frame.payload)),
            ),
          closed: resolve,
        }),
      );
      tunnels.push({ ...started, closed });
    });
  });
  const server: Server = createServer((raw: Socket) => {
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
    const connection = new TlsConnection(raw, {
      secureContext,
      requestCert: options.requestCert ?? false,
      recordLayer:
        options.recordLayer === false
          ? undefined
          : {
              evp,
              pool,
              ...(options.keyUpdateAfter ? { layer: { keyUpdateAfter: options.keyUpdateAfter } } : {}),
              onTlsFailure: (kind) => failures.push(kind),
            },
      maxQueuedBytes: 1 << 22,
    });
    connection.tls.once('secure', () => http.emit('connection', connection.tls));
    connection.tls.on('error', () => raw.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    tunnels,
    failures,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

describe.each([
  ['TLS 1.3 AES-256-GCM', { maxVersion: 'TLSv1.3' as const }],
  ['TLS 1.2 ECDHE AES-128-GCM', { maxVersion: 'TLSv1.2' as const, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }],
  ['TLS 1.2 ECDHE AES-256-GCM', { maxVersion: 'TLSv1.2' as const, ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }],
  ['TLS 1.2 ChaCha20-Poly1305', { maxVersion: 'TLSv1.2' as const, ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' }],
])('takeover after CONNECT with Node as the client, %s', (_, tls) => {
  it('moves frames both ways on Outpost records, then closes with close_notify', async () => {
    const h = await harness();
    try {
      const c = await client(h.port, tls);
      await until(() => h.tunnels.length === 1, 'the tunnel');
      const tunnel = h.tunnels[0]!;
      expect(tunnel.notTakenOver).toBeUndefined();
      expect(tunnel.transport.kind).toBe('outpost');
      const payloads = Array.from({ length: 50 }, (_, i) => randomBytes(1 + ((i * 331) % 1500)));
      for (const p of payloads) c.socket.write(encodeFrame(FrameType.data, p));
      const echoed: Buffer[] = [];
      await until(() => {
        echoed.push(...echoedPayloads(c));
        return echoed.length === payloads.length;
      }, 'the echoes');
      expect(echoed.map((b) => b.toString('hex'))).toEqual(payloads.map((b) => b.toString('hex')));

      const ended = new Promise<void>((resolve) => c.socket.once('end', () => resolve()));
      c.socket.end(); // close_notify
      expect(await tunnel.closed).toBe('client close_notify');
      await ended; // our close_notify came back
      expect(h.failures).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('takeover edge cases', () => {
  it('resumes a TLS 1.2 session and still takes over', async () => {
    const h = await harness();
    try {
      const first = await client(h.port, { maxVersion: 'TLSv1.2' });
      await until(() => first.session !== undefined || h.tunnels.length === 1, 'a session');
      const session = first.session;
      first.socket.end();
      const second = await client(h.port, { maxVersion: 'TLSv1.2', ...(session ? { session } : {}) });
      expect(second.socket.isSessionReused()).toBe(true);
      await until(() => h.tunnels.length === 2, 'the second tunnel');
      expect(h.tunnels[1]!.transport.kind).toBe('outpost');
      second.socket.write(encodeFrame(FrameType.data, Buffer.from('resumed')));
      const echoed = await echoes(second, 1);
      expect(echoed[0]!.toString()).toBe('resumed');
      second.socket.destroy();
    } finally {
      await h.close();
    }
  });

  it('sends a TLS 1.3 KeyUpdate after the configured record count, and the client follows', async () => {
    const h = await harness({ keyUpdateAfter: 8 });
    try {
      const c = await client(h.port, { maxVersion: 'TLSv1.3' });
      await until(() => h.tunnels.length === 1, 'the tunnel');
      for (let i = 0; i < 40; i++) c.socket.write(encodeFrame(FrameType.data, Buffer.from(`frame ${i}`)));
      const echoed: Buffer[] = [];
      await until(() => {
        echoed.push(...echoedPayloads(c));
        return echoed.length === 40;
      }, 'the echoes across key updates');
      expect(echoed[39]!.toString()).toBe('frame 39');
      expect(h.failures).toEqual([]);
      c.socket.destroy();
    } finally {
      await h.close();
    }
  });

  it.each([
    ['TLSv1.3' as const, undefined],
    ['TLSv1.2' as const, 'ECDHE-ECDSA-AES128-GCM-SHA256'],
  ])(
    'an idle tunnel (%s) sheds its EVP contexts and takes them up again for the next record',
    async (version, ciphers) => {
      const h = await harness();
      try {
        const c = await client(h.port, { maxVersion: version, ...(ciphers ? { ciphers } : {}) });
        await until(() => h.tunnels.length === 1, 'the tunnel');
        c.socket.write(encodeFrame(FrameType.data, Buffer.from('before')));
        expect((await echoes(c, 1))[0]!.toString()).toBe('before');
        const transport = h.tunnels[0]!.transport;
        const layer = (
          transport as unknown as {
            layer: { opener: { holdsContext: boolean }; sealer: { holdsContext: boolean } };
          }
        ).layer;
        transport.idle!(1_000); // the sweep sees the recent records, the quiet period starts
        transport.idle!(5_000);
        expect(layer.opener.holdsContext && layer.sealer.holdsContext).toBe(true);
        transport.idle!(11_000);
        expect(layer.opener.holdsContext || layer.sealer.holdsContext).toBe(false);
        for (const word of ['after', 'and again'])
          c.socket.write(encodeFrame(FrameType.data, Buffer.from(word)));
        expect((await echoes(c, 2)).map((b) => b.toString())).toEqual(['after', 'and again']);
        c.socket.destroy();
      } finally {
        await h.close();
      }
    },
  );

  it('closes only that connection on a record that does not authenticate, with an alert', async () => {
    const h = await harness();
    try {
      const c = await client(h.port, { maxVersion: 'TLSv1.2' });
      await until(() => h.tunnels.length === 1, 'the tunnel');
      const clientError = new Promise<Error>((resolve) => c.socket.once('error', resolve));
      c.raw.write(Buffer.concat([Buffer.of(23, 3, 3, 0, 40), randomBytes(40)])); // forged record
      expect(await h.tunnels[0]!.closed).toMatch(/TLS error: .*does not authenticate/);
      expect(h.failures).toEqual(['bad-record-mac']);
      expect((await clientError).message).toMatch(/bad record mac|BAD_RECORD_MAC/i);
    } finally {
      await h.close();
    }
  });

  it('refuses a record over the size limit', async () => {
    const h = await harness();
    try {
      const c = await client(h.port, { maxVersion: 'TLSv1.3' });
      await until(() => h.tunnels.length === 1, 'the tunnel');
      c.raw.write(Buffer.of(23, 3, 3, 0x48, 0x01)); // 18433 bytes announced
      expect(await h.tunnels[0]!.closed).toMatch(/over 16640/);
      expect(h.failures).toEqual(['record-error']);
      c.socket.destroy();
    } finally {
      await h.close();
    }
  });

  it('leaves CBC suites on OpenSSL, and OpenSSL carries the tunnel (a server that offers them)', async () => {
    // The gateway offers no CBC suite (gateway-tls-context.ts); the fallback stays for others.
    const h = await harness({ context: { ciphers: 'ECDHE-ECDSA-AES128-SHA256' } });
    try {
      const c = await client(h.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' });
      await until(() => h.tunnels.length === 1, 'the tunnel');
      expect(h.tunnels[0]!.transport.kind).toBe('openssl');
      expect(h.tunnels[0]!.notTakenOver).toMatch(/cipher suite 0xc023/);
      c.socket.write(encodeFrame(FrameType.data, Buffer.from('via openssl')));
      const echoed = await echoes(c, 1);
      expect(echoed[0]!.toString()).toBe('via openssl');
      c.socket.end();
      expect(await h.tunnels[0]!.closed).toBe('connection closed');
    } finally {
      await h.close();
    }
  });

  it('keeps OpenSSL when the record layer is configured off', async () => {
    const h = await harness({ recordLayer: false });
    try {
      const c = await client(h.port);
      await until(() => h.tunnels.length === 1, 'the tunnel');
      expect(h.tunnels[0]!.transport.kind).toBe('openssl');
      c.socket.destroy();
    } finally {
      await h.close();
    }
  });
});

/** A session (ticket) the client received, waiting for it: TLS 1.3 tickets come after the handshake. */
async function sessionOf(c: { socket: TLSSocket; session?: Buffer }): Promise<Buffer> {
  if (c.session) return c.session;
  return new Promise((resolve) => c.socket.once('session', resolve));
}

describe.each([
  ['TLS 1.2', 'TLSv1.2' as const, false],
  ['TLS 1.2 with a client certificate', 'TLSv1.2' as const, true],
  ['TLS 1.3', 'TLSv1.3' as const, false],
  ['TLS 1.3 with a client certificate', 'TLSv1.3' as const, true],
])('resumption with the gateway context, client certificates requested: %s', (_, maxVersion, withCert) => {
  it('resumes the session (no alert 80) and the resumed connection still leaves OpenSSL at CONNECT', async () => {
    const h = await harness({ requestCert: true });
    try {
      const identity = withCert ? { cert, key } : {};
      const first = await client(h.port, { maxVersion, ...identity });
      const session = await sessionOf(first);
      first.socket.destroy();
      const second = await client(h.port, { maxVersion, session, ...identity });
      expect(second.socket.isSessionReused()).toBe(true);
      if (withCert) expect(second.socket.getCertificate()).not.toBeNull();
      await until(() => h.tunnels.length === 2, 'the second tunnel');
      expect(h.tunnels[1]!.transport.kind).toBe('outpost');
      second.socket.write(encodeFrame(FrameType.data, Buffer.from('resumed')));
      expect((await echoes(second, 1))[0]!.toString()).toBe('resumed');
      second.socket.destroy();
    } finally {
      await h.close();
    }
  });
});

describe.each([
  ['TLS 1.3 with a client certificate', 'TLSv1.3' as const, true, 'the certificate'],
  ['TLS 1.3 without one', 'TLSv1.3' as const, false, 'none'],
  ['TLS 1.2 with a client certificate', 'TLSv1.2' as const, true, 'not read'],
])(
  'the certificates the client presented, read from its records: %s',
  (_, maxVersion, withCert, expected) => {
    it(`gives ${expected}, as OpenSSL has them`, async () => {
      const seen: Array<{ presented?: string[]; openssl?: string }> = [];
      const h = await harness({
        requestCert: true,
        onRequest: (connection) =>
          seen.push({
            ...(connection.presentedChainDer()
              ? { presented: connection.presentedChainDer()!.map(hex) }
              : {}),
            ...(connection.peerCertificate() ? { openssl: hex(connection.peerCertificate()!.raw) } : {}),
          }),
      });
      try {
        const c = await client(h.port, { maxVersion, ...(withCert ? { cert, key } : {}) });
        await until(() => seen.length === 1, 'the request');
        const der = hex(new X509Certificate(cert).raw);
        const want = {
          'the certificate': { presented: [der], openssl: der },
          none: { presented: [] },
          'not read': { openssl: der },
        }[expected];
        expect(seen[0]).toEqual(want);
        c.socket.destroy();
      } finally {
        await h.close();
      }
    });
  },
);

const hex = (b: Buffer) => b.toString('hex');

describe('what the gateway context offers', () => {
  it('refuses client-initiated TLS 1.2 renegotiation with a no_renegotiation alert, and serves the next client', async () => {
    const h = await harness({ requestCert: true });
    try {
      expect(await tryRenegotiation(h.port)).toMatch(/no renegotiation/);
      // The gateway serves the next client as before.
      const c = await client(h.port, { maxVersion: 'TLSv1.2' });
      c.socket.write(encodeFrame(FrameType.data, Buffer.from('after')));
      expect((await echoes(c, 1))[0]!.toString()).toBe('after');
      c.socket.destroy();
    } finally {
      await h.close();
    }
  });

  it.each([
    ['AES-CBC (LUCKY13)', 'ECDHE-ECDSA-AES128-SHA256'],
    ['AES-CBC with SHA-1', 'ECDHE-ECDSA-AES256-SHA'],
    ['AES-CCM', 'ECDHE-ECDSA-AES128-CCM'],
    ['AES-CCM-8', 'ECDHE-ECDSA-AES128-CCM8'],
    ['ARIA-GCM', 'ECDHE-ECDSA-ARIA128-GCM-SHA256'],
  ])('does not negotiate %s on TLS 1.2', async (_, ciphers) => {
    const h = await harness();
    try {
      const failed = await new Promise<string>((resolve) => {
        const socket = tlsConnect({
          port: h.port,
          host: '127.0.0.1',
          rejectUnauthorized: false,
          maxVersion: 'TLSv1.2',
          ciphers,
        });
        socket.once('secureConnect', () => {
          resolve(`negotiated ${socket.getCipher().name}`);
          socket.destroy();
        });
        socket.once('error', (e) => resolve(e.message));
      });
      expect(failed).toMatch(/handshake failure|no cipher|alert/i);
    } finally {
      await h.close();
    }
  });

  it.each([...tls12Suites.filter((s) => s.startsWith('ECDHE-ECDSA'))])(
    'negotiates %s on TLS 1.2 and takes it over',
    async (ciphers) => {
      const h = await harness();
      try {
        const c = await client(h.port, { maxVersion: 'TLSv1.2', ciphers });
        expect(c.socket.getCipher().standardName).toBeDefined();
        await until(() => h.tunnels.length === 1, 'the tunnel');
        expect(h.tunnels[0]!.transport.kind).toBe('outpost');
        c.socket.destroy();
      } finally {
        await h.close();
      }
    },
  );
});
