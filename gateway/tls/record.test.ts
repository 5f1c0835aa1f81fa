import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../core/errors.js';
import { MAX_CIPHERTEXT_TLS12, TlsRecordError, TlsRecordSplitter, writeRecordHeader } from './record.js';

function record(type: number, body: Buffer): Buffer {
  const out = Buffer.alloc(5 + body.length);
  writeRecordHeader(out, 0, type as 23, body.length);
  body.copy(out, 5);
  return out;
}

function splitAll(splitter: TlsRecordSplitter, chunks: Buffer[]): string[] {
  const out: string[] = [];
  for (const chunk of chunks) splitter.push(chunk, (b, s, e) => out.push(b.subarray(s, e).toString('hex')));
  return out;
}

// A handshake record, an empty application_data record and a large one, back to back.
const stream = [
  record(22, Buffer.from('0200000a0303aabbccdd00112233', 'hex')),
  record(23, Buffer.alloc(0)),
  record(23, Buffer.alloc(3000, 0x5a)),
];
const bytes = Buffer.concat(stream);
const expected = stream.map((r) => r.toString('hex'));

describe('TlsRecordSplitter', () => {
  it('finds the same records whatever the split, cut at every byte', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const splitter = new TlsRecordSplitter(MAX_CIPHERTEXT_TLS12);
      expect(splitAll(splitter, [bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(expected);
      expect(splitter.pendingBytes).toBe(0);
    }
  });

  it('hands records inside one chunk over in place, and keeps back an incomplete one', () => {
    const splitter = new TlsRecordSplitter(MAX_CIPHERTEXT_TLS12);
    const seen: Buffer[] = [];
    splitter.push(bytes.subarray(0, bytes.length - 10), (b) => seen.push(b));
    expect(seen.every((b) => b.buffer === bytes.buffer)).toBe(true);
    expect(splitter.pendingBytes).toBe(3005 - 10);
    expect(splitter.takePending().equals(bytes.subarray(bytes.length - 3005, bytes.length - 10))).toBe(true);
    expect(splitter.pendingBytes).toBe(0);
  });

  it.each([
    ['an unknown content type', Buffer.from('1803030000', 'hex'), /content type 24/],
    ['a major version other than 3', Buffer.from('1702030000', 'hex'), /record version 2.3/],
    ['a fragment over the limit', Buffer.from('1703034801', 'hex'), /18433 bytes over 18432/],
  ])('fails on %s, and stays failed', (_, header, message) => {
    const splitter = new TlsRecordSplitter(MAX_CIPHERTEXT_TLS12);
    expect(() => splitter.push(header, () => undefined)).toThrow(message);
    expect(() => splitter.push(record(23, Buffer.alloc(1)), () => undefined)).toThrow(TlsRecordError);
  });

  it('splits any record sequence in any chunking (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(20, 21, 22, 23), fc.uint8Array({ maxLength: 600 })), {
          maxLength: 12,
        }),
        fc.array(fc.nat(700), { maxLength: 20 }),
        (records, cuts) => {
          const all = records.map(([t, b]) => record(t, Buffer.from(b)));
          const joined = Buffer.concat(all);
          const chunks: Buffer[] = [];
          let at = 0;
          for (const c of cuts) {
            chunks.push(joined.subarray(at, Math.min(joined.length, at + c)));
            at = Math.min(joined.length, at + c);
          }
          chunks.push(joined.subarray(at));
          expect(splitAll(new TlsRecordSplitter(MAX_CIPHERTEXT_TLS12), chunks)).toEqual(
            all.map((r) => r.toString('hex')),
          );
        },
      ),
    );
  });

  it('splits reads into one reused buffer like separate chunks: push(buffer, cb, end) (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(20, 21, 22, 23), fc.uint8Array({ maxLength: 600 })), {
          maxLength: 12,
        }),
        fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 20 }),
        (records, cuts) => {
          const all = records.map(([t, b]) => record(t, Buffer.from(b)));
          const joined = Buffer.concat(all);
          // Each read lands at the start of the same buffer, overwriting the last one, with
          // stale bytes after its end: the splitter must keep (copy) what it holds back.
          const reused = Buffer.alloc(800, 0xee);
          const splitter = new TlsRecordSplitter(MAX_CIPHERTEXT_TLS12);
          const out: string[] = [];
          const onRecord = (b: Buffer, s: number, e: number) => out.push(b.subarray(s, e).toString('hex'));
          let at = 0;
          for (let i = 0; at < joined.length; i++) {
            const length = Math.min(joined.length - at, cuts.length > 0 ? cuts[i % cuts.length]! : 700);
            reused.fill(0xee);
            joined.copy(reused, 0, at, at + length);
            splitter.push(reused, onRecord, length);
            at += length;
          }
          expect(out).toEqual(all.map((r) => r.toString('hex')));
          expect(splitter.pendingBytes).toBe(0);
        },
      ),
    );
  });

  it('throws nothing but a DecodeError on arbitrary bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (chunks) => {
        const splitter = new TlsRecordSplitter(1000);
        try {
          for (const c of chunks) splitter.push(Buffer.from(c), () => undefined);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });
});
