import { describe, expect, it } from 'vitest';
import { certificateList } from './client-certificate-message.js';

/** A TLS 1.3 Certificate message body (RFC 8446 §4.4.2) from its parts. */
function body(context: Buffer, entries: Array<{ cert: Buffer; extensions?: Buffer }>): Buffer {
  const list = Buffer.concat(
    entries.flatMap(({ cert, extensions = Buffer.alloc(0) }) => [
      u24(cert.length),
      cert,
      u16(extensions.length),
      extensions,
    ]),
  );
  return Buffer.concat([Buffer.from([context.length]), context, u24(list.length), list]);
}

const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const leaf = Buffer.from('30820001aa', 'hex');
const ca = Buffer.from('3082000bbbcc', 'hex');

describe('certificateList', () => {
  it.each([
    ['no certificate', body(Buffer.alloc(0), []), []],
    ['a leaf', body(Buffer.alloc(0), [{ cert: leaf }]), [leaf]],
    [
      'a leaf and its CA, with entry extensions and a request context',
      body(Buffer.from([7, 7]), [{ cert: leaf, extensions: Buffer.from([0, 5, 0, 0]) }, { cert: ca }]),
      [leaf, ca],
    ],
  ])('reads %s', (_, message, expected) => {
    expect(certificateList(message)?.map((c) => c.toString('hex'))).toEqual(
      expected.map((c) => c.toString('hex')),
    );
  });

  const good = body(Buffer.alloc(0), [{ cert: leaf }, { cert: ca }]);
  it.each([
    ['an empty message', Buffer.alloc(0)],
    ['a truncated list', good.subarray(0, good.length - 1)],
    ['bytes after the list', Buffer.concat([good, Buffer.from([0])])],
    ['a context longer than the message', Buffer.from([9, 0, 0])],
    ['an empty certificate', body(Buffer.alloc(0), [{ cert: Buffer.alloc(0) }])],
    [
      'entry extensions past the list',
      (() => {
        const b = body(Buffer.alloc(0), [{ cert: leaf }]);
        b.writeUInt16BE(9, b.length - 2);
        return b;
      })(),
    ],
  ])('refuses %s', (_, message) => {
    expect(certificateList(message)).toBeUndefined();
  });
});
