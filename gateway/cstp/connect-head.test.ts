import { createServer } from 'node:http';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConnectHeadResult, readConnectHead } from './connect-head.js';
import { type HeaderMap, parseConnectRequest } from './connect-request.js';
import { section } from './testing/transcript.js';

/** openconnect's CONNECT of a transcript section, byte for byte as it went on the wire. */
function openconnectHead(name: 'A' | 'B' | 'C'): string {
  const lines = section(name);
  const from = lines.indexOf('> CONNECT /CSCOSSLC/tunnel HTTP/1.1');
  const to = lines.indexOf('> ', from);
  return `${lines
    .slice(from, to)
    .map((l) => l.slice(2))
    .join('\r\n')}\r\n\r\n`;
}

const connect = 'CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\n';
const bytes = (text: string) => Buffer.from(text, 'latin1');

/** What Node's HTTP server (the path every head this reader declines takes) makes of `raw`. */
function nodeReads(raw: Buffer): Promise<{ url: string; headers: HeaderMap; head: Buffer } | 'no connect'> {
  return new Promise((resolve) => {
    const server = createServer();
    const socket = new Duplex({ read() {}, write: (_c, _e, done) => done() });
    server.on('connect', (req, _s, head) => resolve({ url: req.url!, headers: { ...req.headers }, head }));
    server.on('request', () => resolve('no connect'));
    socket.on('close', () => resolve('no connect'));
    server.emit('connection', socket);
    socket.push(raw);
  });
}

describe('readConnectHead', () => {
  it.each(['A', 'B', 'C'] as const)(
    "reads openconnect's CONNECT of transcript section %s to Node's headers",
    async (name) => {
      const raw = bytes(openconnectHead(name));
      const result = readConnectHead(raw);
      const node = await nodeReads(raw);
      expect(node).not.toBe('no connect');
      expect(result).toEqual({
        kind: 'head',
        headers: { ...(node as { headers: HeaderMap }).headers },
        headLength: raw.length,
      });
      // And so to the same ConnectRequest as today.
      const read = result as Extract<ConnectHeadResult, { kind: 'head' }>;
      expect(parseConnectRequest(read.headers)).toEqual(
        parseConnectRequest((node as { headers: HeaderMap }).headers),
      );
    },
  );

  it('returns the bytes after the head as the head length (the tunnel gets them)', () => {
    const raw = bytes(`${connect}Cookie: webvpn=x\r\n\r\n\x00\x01`);
    expect(readConnectHead(raw)).toMatchObject({ kind: 'head', headLength: raw.length - 2 });
  });

  it('says incomplete at every split of a head, and never declines or reads a prefix', () => {
    const raw = bytes(openconnectHead('B'));
    for (let cut = 0; cut < raw.length; cut++) {
      expect(readConnectHead(raw.subarray(0, cut)), `cut at ${cut}`).toEqual({ kind: 'incomplete' });
    }
  });

  it.each([
    ['an auth POST', 'POST / HTTP/1.1\r\nHost: x\r\n\r\n', 'other-request'],
    ['a GET', 'GET / HTTP/1.1\r\n\r\n', 'other-request'],
    ['another CONNECT target', 'CONNECT /CSCOSSLC/other HTTP/1.1\r\n\r\n', 'other-request'],
    ['HTTP/1.0', 'CONNECT /CSCOSSLC/tunnel HTTP/1.0\r\n\r\n', 'other-request'],
    ['a lower-case method', 'connect /CSCOSSLC/tunnel HTTP/1.1\r\n\r\n', 'other-request'],
    ['a first byte that is not C', 'X', 'other-request'],
    ['obs-fold', `${connect}Cookie: webvpn=x\r\n  folded\r\n\r\n`, 'malformed'],
    ['a space before the colon', `${connect}Cookie : webvpn=x\r\n\r\n`, 'malformed'],
    ['no colon', `${connect}Cookie webvpn=x\r\n\r\n`, 'malformed'],
    ['an empty name', `${connect}: x\r\n\r\n`, 'malformed'],
    ['a bare LF inside a line', `${connect}X-A: a\nX-B: b\r\n\r\n`, 'malformed'],
    ['a bare CR inside a value', `${connect}X-A: a\rb\r\n\r\n`, 'malformed'],
    ['a control byte in a value', `${connect}X-A: a\x01b\r\n\r\n`, 'malformed'],
    ['an 8-bit byte in a value', `${connect}X-A: caf\xe9\r\n\r\n`, 'malformed'],
    ['Content-Length', `${connect}Content-Length: 5\r\n\r\nhello`, 'has-body'],
    ['Transfer-Encoding', `${connect}Transfer-Encoding: chunked\r\n\r\n`, 'has-body'],
  ])('declines %s', (_name, text, reason) => {
    expect(readConnectHead(bytes(text))).toEqual({ kind: 'declined', reason });
  });

  it('declines a head longer than the limit, ended or not', () => {
    const long = `${connect}X-Pad: ${'a'.repeat(200)}\r\n`;
    expect(readConnectHead(bytes(`${long}\r\n`), 100)).toEqual({ kind: 'declined', reason: 'too-large' });
    expect(readConnectHead(bytes(long), 100)).toEqual({ kind: 'declined', reason: 'too-large' });
    expect(readConnectHead(bytes(long), 1000)).toEqual({ kind: 'incomplete' });
  });

  it("merges repeats as Node's req.headers does", () => {
    const raw = bytes(
      `${connect}X-CSTP-Address: 10.0.0.1\r\nx-cstp-address: fd00::1\r\nUser-Agent: first\r\n` +
        'User-Agent: second\r\nCookie: a=1\r\nCookie: webvpn=2\r\nSet-Cookie: s\r\nX-Empty:\r\nX-Blank: \t v \t\r\n\r\n',
    );
    expect(readConnectHead(raw)).toMatchObject({
      headers: {
        'x-cstp-address': '10.0.0.1, fd00::1',
        'user-agent': 'first',
        cookie: 'a=1; webvpn=2',
        'set-cookie': ['s'],
        'x-empty': '',
        'x-blank': 'v',
      },
    });
  });

  it('takes a header named __proto__ as a name', () => {
    const result = readConnectHead(bytes(`${connect}__proto__: x\r\nCookie: webvpn=y\r\n\r\n`));
    expect(result.kind).toBe('head');
    expect(parseConnectRequest((result as { headers: HeaderMap }).headers).cookie).toBe('y');
  });

  const headerName = fc.constantFrom(
    'Cookie',
    'cookie',
    'User-Agent',
    'X-CSTP-Address',
    'X-CSTP-MTU',
    'X-DTLS-CipherSuite',
    'Host',
    'Set-Cookie',
    'X-A',
    'x-a',
    'Bad Name',
    '',
    'Content-Length',
  );
  const headerValue = fc
    .array(fc.constantFrom('a', '1', ' ', '\t', ':', ';', ',', '=', '\r', '\n', '\x7f', '\xe9'), {
      maxLength: 8,
    })
    .map((chars) => chars.join(''));
  const head = fc
    .tuple(
      fc.constantFrom(connect, 'CONNECT /CSCOSSLC/tunnel HTTP/1.0\r\n', 'POST / HTTP/1.1\r\n'),
      fc.array(fc.tuple(headerName, fc.constantFrom(':', ': ', ' :'), headerValue), { maxLength: 6 }),
      fc.constantFrom('\r\n', '', '\n', 'trailing'),
    )
    .map(([line, hs, end]) => bytes(line + hs.map(([n, sep, v]) => `${n}${sep}${v}\r\n`).join('') + end));

  it('never reads a head Node would not read to the same headers (fuzz, against Node 20 itself)', async () => {
    await fc.assert(
      fc.asyncProperty(head, async (raw) => {
        const result = readConnectHead(raw);
        if (result.kind !== 'head') return;
        const node = await nodeReads(raw);
        expect(node).not.toBe('no connect');
        const read = node as { url: string; headers: HeaderMap; head: Buffer };
        expect(read.url).toBe('/CSCOSSLC/tunnel');
        expect({ ...result.headers }).toEqual(read.headers);
        expect(raw.subarray(result.headLength)).toEqual(read.head);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws, and never reads past its input (fuzz, any bytes)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (arbitrary, prefixed) => {
        const raw = prefixed ? Buffer.concat([bytes(connect), arbitrary]) : Buffer.from(arbitrary);
        const result = readConnectHead(raw);
        if (result.kind === 'head') expect(result.headLength).toBeLessThanOrEqual(raw.length);
      }),
      { numRuns: 2000 },
    );
  });
});
