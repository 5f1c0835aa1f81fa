import { createServer } from 'node:http';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../core/errors.js';
import { buildHttpResponse, type HttpAnswer } from './http-response.js';

/** The bytes Node's HTTP server writes for `res.writeHead(status, headers).end(body)` (the old path). */
function nodeWrites(answer: HttpAnswer): Promise<string> {
  return new Promise((resolve) => {
    const server = createServer({ keepAliveTimeout: 30_000 });
    const out: Buffer[] = [];
    const socket = new Duplex({
      read() {},
      write: (c: Buffer, _e, done) => {
        out.push(c);
        done();
      },
      writev: (chunks, done) => {
        for (const { chunk } of chunks) out.push(chunk as Buffer);
        done();
      },
    });
    server.on('request', (req, res) => {
      req.resume();
      res.on('finish', () => setImmediate(() => resolve(Buffer.concat(out).toString('latin1'))));
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
    server.emit('connection', socket);
    socket.push(Buffer.from('POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n'));
  });
}

/** Status line, header lines and the body, de-chunked. */
function parse(raw: string): { status: string; headers: string[]; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const [status, ...headers] = raw.slice(0, end).split('\r\n');
  let rest = raw.slice(end + 4);
  if (!headers.includes('Transfer-Encoding: chunked')) return { status: status!, headers, body: rest };
  let body = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (size === 0) break;
    body += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
  return { status: status!, headers, body };
}

const date = 'Tue, 08 Dec 2026 02:33:25 GMT';
const withDate = (headers: string[]) => headers.map((h) => (h.startsWith('Date: ') ? `Date: ${date}` : h));

/** The dialogue's answers (auth-dialogue.ts): complete, form, 400, 401 bearer, 403 banned. */
const answers: [string, HttpAnswer][] = [
  [
    'complete with the cookie',
    {
      status: 200,
      headers: {
        'content-type': 'text/xml',
        'x-transcend-version': '1',
        'set-cookie': ['webvpn=ABC123; Secure; HttpOnly'],
      },
      body: '<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="complete">…</config-auth>\n',
    },
  ],
  [
    'a form',
    { status: 200, headers: { 'content-type': 'text/xml', 'x-transcend-version': '1' }, body: '<a/>' },
  ],
  ['400', { status: 400, headers: { 'content-type': 'text/plain' }, body: 'malformed config-auth\n' }],
  [
    '401 bearer',
    {
      status: 401,
      headers: { 'www-authenticate': 'Bearer', 'content-type': 'text/plain', 'x-transcend-version': '1' },
      body: 'a bearer token is required\n',
    },
  ],
  ['403 banned', { status: 403, headers: { 'content-type': 'text/plain' }, body: 'banned\n' }],
  ['an empty body', { status: 200, headers: {}, body: '' }],
];

describe('buildHttpResponse', () => {
  it.each(answers)(
    "writes %s as Node's ServerResponse did, header for header, with Content-Length for chunks",
    async (_name, answer) => {
      const node = parse(await nodeWrites(answer));
      const ours = parse(buildHttpResponse(answer, date, 30).toString('latin1'));
      expect(ours.status).toBe(node.status);
      expect(ours.body).toBe(node.body);
      const bodyBytes = Buffer.byteLength(answer.body);
      expect(ours.headers).toEqual([
        ...withDate(node.headers).filter((h) => h !== 'Transfer-Encoding: chunked'),
        `Content-Length: ${bodyBytes}`,
      ]);
      // What Node sent before the framing: the caller's headers, Date, keep-alive.
      expect(node.headers.slice(-4, -1)).toEqual([
        expect.stringMatching(/^Date: /),
        'Connection: keep-alive',
        'Keep-Alive: timeout=30',
      ]);
    },
  );

  it('counts the body in bytes, not characters', () => {
    const raw = buildHttpResponse({ status: 200, headers: {}, body: 'é…' }, date, 30);
    expect(raw.toString('latin1')).toContain('\r\nContent-Length: 5\r\n\r\n');
    expect(raw.subarray(raw.length - 5).toString('utf8')).toBe('é…');
  });

  it.each([
    ['a CR in a value', { status: 200, headers: { 'x-a': 'a\r\nInjected: yes' }, body: '' }],
    ['a space in a name', { status: 200, headers: { 'x a': 'a' }, body: '' }],
    ['an 8-bit value', { status: 200, headers: { 'x-a': 'caf\u00e9' }, body: '' }],
    ['an unknown status', { status: 999, headers: {}, body: '' }],
  ])('refuses %s (Node throws too)', (_name, answer) => {
    expect(() => buildHttpResponse(answer, date, 30)).toThrow(
      expect.objectContaining({ code: ErrorCodes.internal }),
    );
  });

  it('frames any body a client can read back exactly (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (body) => {
        const raw = buildHttpResponse(
          { status: 200, headers: { 'content-type': 'text/xml' }, body },
          date,
          30,
        );
        const end = raw.indexOf('\r\n\r\n');
        const length = Number(
          /\r\nContent-Length: (\d+)\r\n/.exec(`${raw.toString('latin1', 0, end)}\r\n`)![1],
        );
        expect(raw.length - end - 4).toBe(length);
        expect(raw.subarray(end + 4).toString('utf8')).toBe(Buffer.from(body, 'utf8').toString('utf8'));
      }),
    );
  });
});
