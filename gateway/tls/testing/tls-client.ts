import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket, connect as tcpConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { TestPki } from '../../../certs/testing/test-pki.js';
import { CstpFrameDecoder } from '../../cstp/index.js';

/** A throwaway P-256 certificate for 127.0.0.1 from the test PKI kit; `remove` deletes its files. */
export function selfSignedP256(): { cert: Buffer; key: Buffer; remove: () => void } {
  const pki = new TestPki({ prefix: 'outpost-tlsconn-' });
  pki.selfSigned('server', { subject: '/CN=127.0.0.1', days: 2 });
  return { cert: pki.bytes('server.pem'), key: pki.bytes('server.key'), remove: () => pki.cleanup() };
}

/** Node's TLS client: a GET, then CONNECT, then CSTP frames; resolves with the socket after "200". */
export async function client(
  port: number,
  tls: {
    maxVersion?: 'TLSv1.2' | 'TLSv1.3';
    ciphers?: string;
    session?: Buffer;
    /** A client certificate and its key. */
    cert?: Buffer;
    key?: Buffer;
  } = {},
): Promise<{
  socket: TLSSocket;
  raw: Socket;
  frames: CstpFrameDecoder;
  received: Buffer[];
  session?: Buffer;
}> {
  const raw = tcpConnect(port, '127.0.0.1');
  const socket = tlsConnect({ socket: raw, rejectUnauthorized: false, ...tls });
  let session: Buffer | undefined;
  socket.on('session', (s) => (session = s));
  const received: Buffer[] = [];
  let text = '';
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('secureConnect', () => socket.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n'));
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('hello /first') && !text.includes('CONNECT')) {
        text = 'CONNECT';
        socket.write('CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\nHost: x\r\n\r\n');
      } else if (text.includes('200 CONNECTED\r\n\r\n')) {
        socket.off('data', onData);
        const rest = Buffer.from(text.slice(text.indexOf('\r\n\r\n') + 4), 'latin1');
        if (rest.length > 0) received.push(rest);
        socket.on('data', (chunk: Buffer) => received.push(chunk));
        resolve();
      }
    };
    socket.on('data', onData);
  });
  return {
    socket,
    raw,
    frames: new CstpFrameDecoder({ maxPayload: 16000 }),
    received,
    ...(session ? { session } : {}),
  };
}

export async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

/** Waits for `count` echoed frames and returns their payloads. */
export async function echoes(
  c: { frames: CstpFrameDecoder; received: Buffer[] },
  count: number,
): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await until(() => {
    out.push(...echoedPayloads(c));
    return out.length >= count;
  }, `${count} echoes`);
  return out;
}

export function echoedPayloads(c: { frames: CstpFrameDecoder; received: Buffer[] }): Buffer[] {
  const out: Buffer[] = [];
  for (const chunk of c.received.splice(0)) c.frames.pushEach(chunk, (f) => out.push(Buffer.from(f.payload)));
  return out;
}

/**
 * Connects with TLS 1.2, then asks to renegotiate; resolves with how that ended ('renegotiated'
 * when the server allowed it). A server's no_renegotiation alert surfaces as a socket error (the
 * renegotiate callback is not called), so both are waited for.
 */
export async function tryRenegotiation(port: number): Promise<string> {
  const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
  await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
  const outcome = await new Promise<string>((resolve) => {
    socket.once('error', (e) => resolve(e.message));
    const started = socket.renegotiate({ rejectUnauthorized: false }, (e) =>
      resolve(e ? e.message : 'renegotiated'),
    );
    if (!started) resolve('not started');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  });
  socket.destroy();
  return outcome;
}

/** Runs `run` against a loopback TCP server whose connections go to `onSocket`; closes it after. */
export async function withServer<T>(
  onSocket: (raw: Socket) => void,
  run: (port: number) => Promise<T>,
): Promise<T> {
  const server = createServer(onSocket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await run((server.address() as AddressInfo).port);
  } finally {
    server.close();
  }
}
