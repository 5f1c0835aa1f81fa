import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DTLS_1_2,
  type DtlsContentType,
  DtlsDecodeError,
  emptyRecordView,
  encodePlainRecord,
  readRecord,
  sequenceOf,
  splitDatagram,
  writeRecordHeader,
} from './record.js';

describe('DTLS record framing', () => {
  it.each([
    // type, version, epoch, sequence, fragment → header hex
    [22, 0xfeff, 0, 0, '', '16feff000000000000000000' + '00'],
    [23, 0xfefd, 1, 1, 'ab', '17fefd000100000000000100' + '01'],
    [21, 0xfefd, 0xffff, 2 ** 48 - 1, '0102', '15fefdffffffffffffffff00' + '02'],
    [20, 0xfefd, 0, 0x0102030405, '01', '14fefd000000010203040500' + '01'],
  ])('header of type %i version %s epoch %i seq %i', (type, version, epoch, seq, fragment, header) => {
    const record = encodePlainRecord(
      type as DtlsContentType,
      version,
      epoch,
      seq,
      Buffer.from(fragment, 'hex'),
    );
    expect(record.toString('hex')).toBe(header + fragment);
    const view = emptyRecordView();
    readRecord(record, 0, view);
    expect(view).toMatchObject({ type, version, epoch, start: 0, end: record.length });
    expect(sequenceOf(view)).toBe(seq);
  });

  it('splits a datagram holding several records', () => {
    const a = encodePlainRecord(22, DTLS_1_2, 0, 5, Buffer.from('0102', 'hex'));
    const b = encodePlainRecord(20, DTLS_1_2, 0, 6, Buffer.of(1));
    const c = encodePlainRecord(23, DTLS_1_2, 1, 0, Buffer.alloc(40));
    const views = splitDatagram(Buffer.concat([a, b, c]));
    expect(views.map((v) => [v.type, v.epoch, sequenceOf(v), v.start, v.end])).toEqual([
      [22, 0, 5, 0, 15],
      [20, 0, 6, 15, 29],
      [23, 1, 0, 29, 82],
    ]);
  });

  it.each([
    ['cut header', '16fefd0000000000'],
    ['TLS version', '160303000000000000000000' + '00'],
    ['fragment past the end', '17fefd000100000000000100' + '05' + 'aabb'],
    ['fragment over 2^14 + 2048', '17fefd00010000000000014801'],
  ])('refuses a record with a %s', (_what, hex) => {
    expect(() => splitDatagram(Buffer.from(hex, 'hex'))).toThrow(DtlsDecodeError);
  });

  it('never reads past a datagram cut at any byte, and throws only DtlsDecodeError', () => {
    const whole = Buffer.concat([
      encodePlainRecord(22, DTLS_1_2, 0, 1, Buffer.alloc(30, 1)),
      encodePlainRecord(23, DTLS_1_2, 1, 2, Buffer.alloc(50, 2)),
    ]);
    for (let cut = 0; cut <= whole.length; cut++) {
      const part = whole.subarray(0, cut);
      try {
        for (const v of splitDatagram(part)) expect(v.end).toBeLessThanOrEqual(cut);
      } catch (e) {
        expect(e).toBeInstanceOf(DtlsDecodeError);
      }
    }
  });

  it('property: random bytes split into records within bounds or fail with DtlsDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          let at = 0;
          for (const v of splitDatagram(bytes)) {
            expect(v.start).toBe(at);
            at = v.end;
          }
          expect(at).toBe(bytes.length);
        } catch (e) {
          expect(e).toBeInstanceOf(DtlsDecodeError);
        }
      }),
    );
  });

  it('refuses sequence numbers past 48 bits when writing', () => {
    expect(() => writeRecordHeader(Buffer.alloc(13), 0, 23, DTLS_1_2, 1, 2 ** 48, 0)).toThrow(RangeError);
  });
});
