import { createServer } from 'node:http';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AuthPostResult, readAuthPost } from './auth-post.js';
import type { HeaderMap } from './connect-request.js';
import { type SectionName, section } from './testing/transcript.js';

/** openconnect's POSTs of a transcript section, byte for byte as they went on the wire. */
function openconnectPosts(name: SectionName): string[] {
  const lines = section(name);
  const posts: string[] = [];
  for (let from = lines.indexOf('> POST / HTTP/1.1'); from >= 0; ) {
    const blank = lines.indexOf('> ', from);
    const head = `${lines
      .slice(from, blank)
      .map((l) => l.slice(2))
      .join('\r\n')}\r\n\r\n`;
    const length = Number(/\r\nContent-Length: (\d+)\r\n/.exec(head)![1]);
    const bodyLines: string[] = [];
    for (let i = blank + 1; lines[i]?.startsWith('> '); i++) bodyLines.push(lines[i]!.slice(2));
    // Each body line ended with a newline on the wire (the transcript prints it as a line).
    const body = bodyLines
      .map((l) => `${l}\n`)
      .join('')
      .slice(0, length);
    expect(Buffer.byteLength(body)).toBe(length);
    posts.push(head + body);
    from = lines.findIndex((l, i) => i > blank && l.startsWith('> POST '));
  }
  return posts;
}

const limits = { maxBodyBytes: 64 * 1024 };
const bytes = (text: string) => Buffer.from(text, 'latin1');
const post = (headers: string, body = '<a/>') =>
  `POST / HTTP/1.1\r\nHost: gw\r\n${headers}Content-Length: ${body.length}\r\n\r\n${body}`;

type NodeRead = { method: string; url: string; headers: HeaderMap; body: Buffer };

/** What Node's HTTP server (the path every request this reader declines takes) makes of `raw`. */
function nodeReads(raw: Buffer): Promise<NodeRead | 'no request'> {
  return new Promise((resolve) => {
    const server = createServer();
    const socket = new Duplex({ read() {}, write: (_c, _e, done) => done() });
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () =>
        resolve({
          method: req.method!,
          url: req.url!,
          headers: { ...req.headers },
          body: Buffer.concat(chunks),
        }),
      );
      res.end();
    });
    server.on('connect', () => resolve('no request'));
    socket.on('close', () => resolve('no request'));
    setTimeout(() => resolve('no request'), 200);
    server.emit('connection', socket);
    socket.push(raw);
  });
}

describe('readAuthPost', () => {
  const posts = (['A', 'B', 'C'] as const).flatMap((name) =>
    openconnectPosts(name).map((raw, i) => [`${name}${i + 1}`, raw] as const),
  );

  it.each(posts)("reads openconnect's POST %s to Node's target, headers and body", async (_name, text) => {
    const raw = bytes(text);
    const result = readAuthPost(raw, limits);
    const node = (await nodeReads(raw)) as NodeRead;
    expect(node).not.toBe('no request');
    expect(result).toEqual({ kind: 'post', target: node.url, headers: { ...node.headers }, body: node.body });
  });

  it('says incomplete at every split of a POST, and never declines or reads a prefix', () => {
    const raw = bytes(posts[1]![1]);
    for (let cut = 0; cut < raw.length; cut++) {
      expect(readAuthPost(raw.subarray(0, cut), limits), `cut at ${cut}`).toEqual({ kind: 'incomplete' });
    }
  });

  it.each([
    ['a GET', 'GET / HTTP/1.1\r\nHost: gw\r\n\r\n', 'other-request'],
    ['a CONNECT', 'CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\n\r\n', 'other-request'],
    ['HTTP/1.0', 'POST / HTTP/1.0\r\nHost: gw\r\nContent-Length: 0\r\n\r\n', 'other-request'],
    ['a lower-case method', 'post / HTTP/1.1\r\n', 'other-request'],
    ['an absolute target', 'POST http://gw/ HTTP/1.1\r\n', 'other-request'],
    ['a fragment in the target', 'POST /a#b HTTP/1.1\r\n', 'malformed'],
    ['two spaces after the target', 'POST /  HTTP/1.1\r\n', 'other-request'],
    ['obs-fold', post('X-A: a\r\n  folded\r\n'), 'malformed'],
    ['a bare LF inside a line', post('X-A: a\nX-B: b\r\n'), 'malformed'],
    ['an 8-bit byte in a value', post('X-A: caf\xe9\r\n'), 'malformed'],
    ['two Content-Lengths', post('Content-Length: 4\r\n'), 'malformed'],
    ['two Hosts', post('Host: other\r\n'), 'malformed'],
    [
      'a Content-Length that is not digits',
      'POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: +4\r\n\r\n<a/>',
      'malformed',
    ],
    ['no Host', 'POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n', 'no-host'],
    ['chunked', 'POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'not-plain'],
    ['Connection: close', post('Connection: close\r\n'), 'not-plain'],
    ['Connection: keep-alive, Upgrade', post('Connection: keep-alive, Upgrade\r\n'), 'not-plain'],
    ['Expect: 100-continue', post('Expect: 100-continue\r\n'), 'not-plain'],
    ['Upgrade', post('Upgrade: websocket\r\n'), 'not-plain'],
    ['no Content-Length', 'POST / HTTP/1.1\r\nHost: gw\r\n\r\n', 'no-length'],
    ['a body over the limit', post('', 'x'.repeat(65 * 1024)), 'body-too-large'],
    [
      'a declared body over the limit, not yet sent',
      'POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 65537\r\n\r\n',
      'body-too-large',
    ],
    ['bytes after the body', `${post('')}GET / HTTP/1.1\r\n`, 'pipelined'],
  ])('declines %s', (_name, text, reason) => {
    expect(readAuthPost(bytes(text), limits)).toEqual({ kind: 'declined', reason });
  });

  it('takes Connection: keep-alive in any case, and an empty body', () => {
    expect(readAuthPost(bytes(post('Connection: Keep-Alive\r\n', '')), limits)).toMatchObject({
      kind: 'post',
      body: Buffer.alloc(0),
    });
  });

  it('declines a head longer than the limit, ended or not', () => {
    const long = `POST / HTTP/1.1\r\nHost: gw\r\nX-Pad: ${'a'.repeat(200)}\r\n`;
    const small = { maxBodyBytes: 100, maxHeadBytes: 100 };
    expect(readAuthPost(bytes(`${long}Content-Length: 0\r\n\r\n`), small)).toEqual({
      kind: 'declined',
      reason: 'too-large',
    });
    expect(readAuthPost(bytes(long), small)).toEqual({ kind: 'declined', reason: 'too-large' });
    expect(readAuthPost(bytes(`POST /${'a'.repeat(200)}`), small)).toEqual({
      kind: 'declined',
      reason: 'too-large',
    });
    expect(readAuthPost(bytes(long), { ...small, maxHeadBytes: 1000 })).toEqual({ kind: 'incomplete' });
  });

  /** Mostly what openconnect sends, sometimes what it does not: most runs reach the comparison. */
  const mostly = (good: string[], bad: string[]) =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...good) },
      { weight: 1, arbitrary: fc.constantFrom(...bad) },
    );
  const headerName = mostly(
    ['Cookie', 'User-Agent', 'X-Aggregate-Auth', 'Content-Type', 'X-A', 'x-a', 'Accept'],
    ['Host', 'Connection', 'Expect', 'Transfer-Encoding', 'Content-Length', 'Upgrade', 'Bad Name', ''],
  );
  const headerValue = fc
    .array(
      mostly(
        ['a', '1', '0', ' ', ':', ';', ',', '=', 'keep-alive'],
        ['\t', 'close', '\r', '\n', '\x7f', '\xe9'],
      ),
      {
        maxLength: 6,
      },
    )
    .map((chars) => chars.join(''));
  const target = fc
    .array(
      mostly(
        ['/', 'a', '%', '2', '?', '=', '&', '~', ':', '@', '+'],
        ['#', ' ', '"', '\\', '|', '{', '\x01'],
      ),
      {
        maxLength: 6,
      },
    )
    .map((chars) => `/${chars.join('')}`);
  const request = fc
    .tuple(
      mostly(['POST '], ['GET ', 'POST  ', 'PUT ']),
      target,
      mostly([' HTTP/1.1\r\n'], [' HTTP/1.0\r\n', ' HTTP/1.1\n']),
      mostly(['Host: gw\r\n'], ['', 'Host: a b\r\n']),
      fc.array(fc.tuple(headerName, mostly([': ', ':'], [' :']), headerValue), { maxLength: 4 }),
      mostly(['Content-Length: '], ['', 'Content-Length: +', 'Content-Length: 0']),
      fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, -1) }),
      mostly(['\r\n'], ['', '\n']),
      fc.constantFrom('', 'abcdef', '<a/>\n'),
    )
    .map(([method, path, version, host, hs, lengthHeader, delta, end, body]) =>
      bytes(
        method +
          path +
          version +
          host +
          hs.map(([n, sep, v]) => `${n}${sep}${v}\r\n`).join('') +
          (lengthHeader ? `${lengthHeader}${Math.max(0, body.length + delta)}\r\n` : '') +
          end +
          body,
      ),
    );

  it('never reads a request Node would not read to the same target, headers and body (fuzz, against Node 20 itself)', async () => {
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(request, async (raw) => {
        const result = readAuthPost(raw, limits);
        if (result.kind !== 'post') return;
        taken++;
        const node = await nodeReads(raw);
        expect(node).not.toBe('no request');
        const read = node as NodeRead;
        expect(read.method).toBe('POST');
        expect(result.target).toBe(read.url);
        expect({ ...result.headers }).toEqual(read.headers);
        expect(result.body).toEqual(read.body);
      }),
      { numRuns: 400 },
    );
    // The property must have been tried on requests this reader takes, not only declined ones.
    expect(taken).toBeGreaterThan(40);
  });

  it('never throws, and never reads past its input (fuzz, any bytes)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (arbitrary, prefixed) => {
        const raw = prefixed
          ? Buffer.concat([bytes('POST / HTTP/1.1\r\nHost: x\r\n'), arbitrary])
          : Buffer.from(arbitrary);
        const result: AuthPostResult = readAuthPost(raw, limits);
        if (result.kind === 'post') expect(result.body.length).toBeLessThanOrEqual(raw.length);
      }),
      { numRuns: 2000 },
    );
  });
});
