import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeHandshake,
  fragmentHandshake,
  HandshakeReassembler,
  HandshakeType,
  readHandshakeFragments,
} from './handshake.js';
import { DtlsDecodeError } from './record.js';

const body = Buffer.from(Array.from({ length: 57 }, (_, i) => i));

describe('DTLS handshake messages', () => {
  it('encodes a whole message as one fragment (the form the handshake hash takes)', () => {
    const m = encodeHandshake(HandshakeType.finished, 3, Buffer.from('0102030405060708090a0b0c', 'hex'));
    expect(m.toString('hex')).toBe(
      '14' + '00000c' + '0003' + '000000' + '00000c' + '0102030405060708090a0b0c',
    );
  });

  it('cuts into fragments with their own headers and reads them back', () => {
    const m = encodeHandshake(HandshakeType.clientHello, 1, body);
    const pieces = fragmentHandshake(m, 20);
    expect(pieces.map((p) => p.length - 12)).toEqual([20, 20, 17]);
    const frags = readHandshakeFragments(Buffer.concat(pieces));
    expect(frags.map((f) => [f.type, f.length, f.messageSeq, f.offset, f.bytes.length])).toEqual([
      [1, 57, 1, 0, 20],
      [1, 57, 1, 20, 20],
      [1, 57, 1, 40, 17],
    ]);
  });

  it.each([
    ['a cut header', '0100003900'],
    ['a fragment past its record', '010000390001000000000014' + '00'],
    ['a fragment outside its message', '010000050001000004000002' + '0000'],
  ])('refuses %s', (_what, hex) => {
    expect(() => readHandshakeFragments(Buffer.from(hex, 'hex'))).toThrow(DtlsDecodeError);
  });

  it('property: fragments of any size, in any order, duplicated, reassemble to the message', () => {
    const message = encodeHandshake(HandshakeType.clientKeyExchange, 2, body);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: body.length }),
        fc.func(fc.integer()),
        fc.array(fc.nat(), { maxLength: 5 }),
        (size, order, duplicates) => {
          const frags = readHandshakeFragments(Buffer.concat(fragmentHandshake(message, size)));
          const shuffled = frags.map((f, i) => ({ f, k: order(i) })).sort((a, b) => a.k - b.k);
          const all = [...shuffled.map((x) => x.f), ...duplicates.map((d) => frags[d % frags.length]!)];
          const r = new HandshakeReassembler(2, { maxMessage: 1000, maxAhead: 2, maxFragments: 200 });
          for (const f of all) r.add(f);
          const m = r.take();
          expect(m?.message.equals(message)).toBe(true);
          expect(r.take()).toBeUndefined();
        },
      ),
    );
  });

  it('property: overlapping fragments split at every byte pair reassemble to the message', () => {
    const message = encodeHandshake(HandshakeType.clientHello, 0, body);
    for (let a = 0; a <= body.length; a++) {
      for (let b = a; b <= body.length; b += 7) {
        const r = new HandshakeReassembler(0);
        const piece = (from: number, to: number) => ({
          type: 1,
          length: body.length,
          messageSeq: 0,
          offset: from,
          bytes: body.subarray(from, to),
        });
        r.add(piece(Math.max(0, a - 3), b));
        r.add(piece(b, body.length));
        if (a > 3) expect(r.take()).toBeUndefined();
        r.add(piece(0, a));
        const m = a > 3 ? r.take() : (r.take() ?? r.take());
        expect(m?.message.equals(message)).toBe(true);
      }
    }
  });

  it('delivers in message_seq order, reports old messages, drops those too far ahead', () => {
    const r = new HandshakeReassembler(2, { maxMessage: 100, maxAhead: 1, maxFragments: 4 });
    const whole = (seq: number) =>
      readHandshakeFragments(encodeHandshake(HandshakeType.finished, seq, Buffer.of(seq)))[0]!;
    expect(r.add(whole(3))).toBe('kept');
    expect(r.take()).toBeUndefined();
    expect(r.add(whole(4))).toBe('dropped');
    expect(r.add(whole(1))).toBe('old');
    expect(r.add(whole(2))).toBe('kept');
    expect(r.take()?.messageSeq).toBe(2);
    expect(r.take()?.messageSeq).toBe(3);
    expect(r.expected).toBe(4);
  });

  it('enforces the limits: message size, fragment count, agreeing fragments', () => {
    const r = new HandshakeReassembler(0, { maxMessage: 10, maxAhead: 1, maxFragments: 2 });
    expect(() => r.add({ type: 1, length: 11, messageSeq: 0, offset: 0, bytes: Buffer.alloc(1) })).toThrow(
      DtlsDecodeError,
    );
    r.add({ type: 1, length: 10, messageSeq: 0, offset: 0, bytes: Buffer.alloc(1) });
    expect(() => r.add({ type: 2, length: 10, messageSeq: 0, offset: 1, bytes: Buffer.alloc(1) })).toThrow(
      DtlsDecodeError,
    );
    r.add({ type: 1, length: 10, messageSeq: 0, offset: 1, bytes: Buffer.alloc(1) });
    expect(() => r.add({ type: 1, length: 10, messageSeq: 0, offset: 2, bytes: Buffer.alloc(1) })).toThrow(
      /fragments/,
    );
    expect(r.bufferedBytes).toBe(10);
  });
});
