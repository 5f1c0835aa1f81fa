import { createServer } from 'node:http';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HeaderMap } from '../cstp/index.js';
import { routeFirstRequest } from './first-request.js';

const connect = 'CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\nCookie: webvpn=abc\r\nX-CSTP-MTU: 1390\r\n\r\n';

function socket(): Duplex {
  return new Duplex({ read() {}, write: (_c, _e, done) => done() });
}

/** Routes `chunks` (pushed one per tick) and says which route was taken, with what. */
async function route(chunks: string[]) {
  const s = socket();
  const taken: { route: string; headers?: HeaderMap; bytes?: string }[] = [];
  routeFirstRequest(s, 10_000, {
    tunnel: (headers, head) => taken.push({ route: 'tunnel', headers, bytes: head.toString('latin1') }),
    http: (read) => taken.push({ route: 'http', bytes: read.toString('latin1') }),
    idle: () => taken.push({ route: 'idle' }),
  });
  for (const chunk of chunks) {
    s.push(Buffer.from(chunk, 'latin1'));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { s, taken };
}

describe('routeFirstRequest', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers a CONNECT head read whole from the first chunk; later bytes wait in the socket', async () => {
    const { s, taken } = await route([`${connect}AB`, 'CD']);
    expect(taken).toEqual([
      { route: 'tunnel', headers: { cookie: 'webvpn=abc', 'x-cstp-mtu': '1390' }, bytes: 'AB' },
    ]);
    expect(s.readableFlowing).toBeNull();
    expect((s.read() as Buffer).toString()).toBe('CD');
  });

  it.each([
    ['an auth POST', ['POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n']],
    ['a CONNECT split over two records', [connect.slice(0, 20), connect.slice(20)]],
    ['another CONNECT target', ['CONNECT /other HTTP/1.1\r\n\r\n']],
  ])('hands %s to the HTTP server with the first chunk', async (_name, chunks) => {
    const { taken } = await route(chunks);
    expect(taken).toEqual([{ route: 'http', bytes: chunks[0] }]);
  });

  it('says idle when no byte comes within the wait, and nothing once the socket closed', async () => {
    vi.useFakeTimers();
    const idle = vi.fn();
    const routes = { tunnel: vi.fn(), http: vi.fn(), idle };
    routeFirstRequest(socket(), 1000, routes);
    const closed = socket();
    routeFirstRequest(closed, 1000, routes);
    closed.destroy();
    await new Promise((resolve) => closed.once('close', resolve));
    vi.advanceTimersByTime(999);
    expect(idle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(idle).toHaveBeenCalledTimes(1);
  });

  it('gives the HTTP server the first chunk before anything read after it (pipelined requests in order)', async () => {
    const server = createServer();
    const seen: string[] = [];
    server.on('request', (req, res) => {
      seen.push(req.url!);
      res.end();
    });
    const s = socket();
    routeFirstRequest(s, 10_000, {
      tunnel: () => seen.push('tunnel'),
      http: (read) => {
        server.emit('connection', s);
        s.emit('data', read);
      },
      idle: () => seen.push('idle'),
    });
    s.push(Buffer.from('GET /first HTTP/1.1\r\nHost: gw\r\n\r\n'));
    s.push(Buffer.from('GET /second HTTP/1.1\r\nHost: gw\r\n\r\n'));
    await vi.waitFor(() => expect(seen).toEqual(['/first', '/second']));
  });
});
