import { createServer } from 'node:http';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HeaderMap, HttpAnswer } from '../cstp/index.js';
import { type AuthPost, type RequestRoutes, routeRequests } from './request-router.js';

const connect = 'CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\nCookie: webvpn=abc\r\nX-CSTP-MTU: 1390\r\n\r\n';
const post = (body: string, extra = '') =>
  `POST /auth HTTP/1.1\r\nHost: gw\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;
const waits = { firstMs: 10_000, keepAliveMs: 30_000, maxBodyBytes: 1024 };
const answer: HttpAnswer = { status: 200, headers: { 'content-type': 'text/xml' }, body: '<ok/>' };

/** A socket that keeps what is written to it. */
function socket(): Duplex & { written: string[] } {
  const written: string[] = [];
  const s = new Duplex({
    read() {},
    write: (c: Buffer, _e, done) => {
      written.push(c.toString('latin1'));
      done();
    },
  });
  return Object.assign(s, { written });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

type Taken = { route: string; headers?: HeaderMap; bytes?: string; target?: string };

/** Routes `chunks` (pushed one per tick) and says which routes were taken, with what. */
async function route(chunks: string[], reply: (p: AuthPost) => Promise<HttpAnswer> = async () => answer) {
  const s = socket();
  const taken: Taken[] = [];
  routeRequests(s, waits, {
    tunnel: (headers, head) => taken.push({ route: 'tunnel', headers, bytes: head.toString('latin1') }),
    post: (p) => {
      taken.push({ route: 'post', target: p.target, bytes: p.body.toString('latin1') });
      return reply(p);
    },
    http: (read) => taken.push({ route: 'http', bytes: read.toString('latin1') }),
    idle: () => taken.push({ route: 'idle' }),
  });
  for (const chunk of chunks) {
    s.push(Buffer.from(chunk, 'latin1'));
    await tick();
  }
  await tick();
  return { s, taken };
}

describe('routeRequests', () => {
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

  it('answers whole POSTs, then takes the CONNECT after them on the same connection', async () => {
    const { s, taken } = await route([post('<a/>'), post('<b/>'), `${connect}X`]);
    expect(taken).toEqual([
      { route: 'post', target: '/auth', bytes: '<a/>' },
      { route: 'post', target: '/auth', bytes: '<b/>' },
      { route: 'tunnel', headers: { cookie: 'webvpn=abc', 'x-cstp-mtu': '1390' }, bytes: 'X' },
    ]);
    expect(s.written).toHaveLength(2);
    expect(s.written[0]).toMatch(
      /^HTTP\/1\.1 200 OK\r\ncontent-type: text\/xml\r\nDate: .+ GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=30\r\nContent-Length: 5\r\n\r\n<ok\/>$/,
    );
  });

  it('reads nothing while a POST is being answered, and the next request after the answer', async () => {
    let release: (a: HttpAnswer) => void = () => undefined;
    const pending = new Promise<HttpAnswer>((resolve) => {
      release = resolve;
    });
    const { s, taken } = await route([post('<a/>'), post('<b/>')], (p) =>
      p.body.toString() === '<a/>' ? pending : Promise.resolve(answer),
    );
    expect(taken.map((t) => t.bytes)).toEqual(['<a/>']);
    expect(s.written).toEqual([]);
    release({ ...answer, body: 'first' });
    await tick();
    await tick();
    expect(taken.map((t) => t.bytes)).toEqual(['<a/>', '<b/>']);
    expect(s.written.map((w) => w.slice(w.indexOf('\r\n\r\n') + 4))).toEqual(['first', '<ok/>']);
  });

  it.each([
    ['a GET', ['GET / HTTP/1.1\r\nHost: gw\r\n\r\n']],
    ['a CONNECT split over two records', [connect.slice(0, 20), connect.slice(20)]],
    ['a POST split over two records', [post('<a/>').slice(0, 30), post('<a/>').slice(30)]],
    ['a chunked POST', ['POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n']],
    ['a POST asking to close', [post('<a/>', 'Connection: close\r\n')]],
    ['a body over the limit', [post('x'.repeat(1025))]],
    ['another CONNECT target', ['CONNECT /other HTTP/1.1\r\n\r\n']],
  ])('hands %s to the HTTP server with the first chunk', async (_name, chunks) => {
    const { taken } = await route(chunks);
    expect(taken).toEqual([{ route: 'http', bytes: chunks[0] }]);
  });

  it('hands a request after a POST it answered to the HTTP server', async () => {
    const get = 'GET / HTTP/1.1\r\nHost: gw\r\n\r\n';
    const { taken } = await route([post('<a/>'), get]);
    expect(taken).toEqual([
      { route: 'post', target: '/auth', bytes: '<a/>' },
      { route: 'http', bytes: get },
    ]);
  });

  it('closes the connection when the answer cannot be made or written', async () => {
    const failing = await route([post('<a/>')], () => Promise.reject(new Error('bug')));
    expect(failing.s.destroyed).toBe(true);
    const unwritable = await route([post('<a/>')], async () => ({ ...answer, status: 999 }));
    expect(unwritable.s.destroyed).toBe(true);
  });

  it('says idle when no first byte comes within the wait, and nothing once the socket closed', async () => {
    vi.useFakeTimers();
    const idle = vi.fn();
    const routes = { tunnel: vi.fn(), post: vi.fn(), http: vi.fn(), idle };
    routeRequests(socket(), { ...waits, firstMs: 1000 }, routes);
    const closed = socket();
    routeRequests(closed, { ...waits, firstMs: 1000 }, routes);
    closed.destroy();
    await new Promise((resolve) => closed.once('close', resolve));
    vi.advanceTimersByTime(999);
    expect(idle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(idle).toHaveBeenCalledTimes(1);
  });

  it('closes a connection idle for the keep-alive wait after a POST, without a word', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const s = socket();
    const routes: RequestRoutes = { tunnel: vi.fn(), post: async () => answer, http: vi.fn(), idle: vi.fn() };
    routeRequests(s, { ...waits, keepAliveMs: 5000 }, routes);
    s.push(Buffer.from(post('<a/>')));
    await tick();
    await tick();
    expect(s.written).toHaveLength(1);
    vi.advanceTimersByTime(4999);
    expect(s.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(s.destroyed).toBe(true);
    expect(routes.idle).not.toHaveBeenCalled();
    expect(s.written).toHaveLength(1);
  });

  it('gives the HTTP server the first chunk before anything read after it (pipelined requests in order)', async () => {
    const server = createServer();
    const seen: string[] = [];
    server.on('request', (req, res) => {
      seen.push(req.url!);
      res.end();
    });
    const s = socket();
    routeRequests(s, waits, {
      tunnel: () => seen.push('tunnel'),
      post: async () => answer,
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
