import fc from 'fast-check';
import {
  MAX_CIPHERTEXT_TLS12,
  MAX_CIPHERTEXT_TLS13,
  TlsRecordError,
  TlsRecordSplitter,
} from '../../gateway/tls/record.js';
import { chunking, splitInto } from '../byte-mutations.js';
import { type FuzzTarget, invariant } from '../target.js';

const recordSpec = fc.record({
  type: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 20, max: 23 }) },
    { weight: 1, arbitrary: fc.nat(255) },
  ),
  version: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(0x0303, 0x0301) },
    { weight: 1, arbitrary: fc.nat(0xffff) },
  ),
  fragment: fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 80 }) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: MAX_CIPHERTEXT_TLS13 - 2, max: MAX_CIPHERTEXT_TLS12 + 2 })
        .map((n) => new Uint8Array(n)),
    },
  ),
  lengthDelta: fc.oneof(
    { weight: 8, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: -300, max: 70000 }) },
  ),
});
type RecordSpec = typeof recordSpec extends fc.Arbitrary<infer T> ? T : never;

function wireRecord(r: RecordSpec): Buffer {
  const header = Buffer.from([r.type, r.version >> 8, r.version & 0xff, 0, 0]);
  header.writeUInt16BE((r.fragment.length + r.lengthDelta) & 0xffff, 3);
  return Buffer.concat([header, r.fragment]);
}

export interface SplitterInput {
  stream: Buffer;
  cuts: number[];
  tls13: boolean;
}

function split(chunks: readonly Buffer[], maxFragment: number) {
  const splitter = new TlsRecordSplitter(maxFragment);
  const records: Buffer[] = [];
  let error: unknown;
  try {
    for (const chunk of chunks)
      splitter.push(chunk, (b, s, e) => records.push(Buffer.from(b.subarray(s, e))));
  } catch (e) {
    error = e;
  }
  const pending = error === undefined ? splitter.takePending() : undefined;
  return { records, error, pending };
}

/**
 * The record splitter in front of the takeover record layer (gateway/tls TlsRecordSplitter).
 * Invariants: chunking does not change the records; each record is header + exactly its declared
 * fragment; records plus the held-back bytes are the stream, byte for byte.
 */
export function tlsRecordSplitterTarget(): FuzzTarget<SplitterInput> {
  return {
    name: 'tls-record-splitter',
    arbitrary: fc.record({
      stream: fc
        .tuple(fc.array(recordSpec, { maxLength: 6 }), fc.uint8Array({ maxLength: 8 }))
        .map(([records, tail]) => Buffer.concat([...records.map(wireRecord), tail])),
      cuts: chunking,
      tls13: fc.boolean(),
    }),
    check: ({ stream, cuts, tls13 }) => {
      const max = tls13 ? MAX_CIPHERTEXT_TLS13 : MAX_CIPHERTEXT_TLS12;
      const chunked = split(splitInto(stream, cuts), max);
      const whole = split([stream], max);
      invariant(chunked.records.length === whole.records.length, 'chunking changed the number of records');
      invariant(
        chunked.records.every((r, i) => r.equals(whole.records[i]!)),
        'chunking changed a record',
      );
      invariant(
        (chunked.error === undefined) === (whole.error === undefined),
        'chunking changed the outcome',
      );
      for (const r of chunked.records) {
        invariant(r.length === 5 + r.readUInt16BE(3) && r.readUInt16BE(3) <= max, 'record length');
        invariant(r[0]! >= 20 && r[0]! <= 23 && r[1] === 3, 'record header accepted');
      }
      const joined = Buffer.concat(chunked.records);
      invariant(stream.subarray(0, joined.length).equals(joined), 'records are not the stream');
      if (chunked.pending) {
        invariant(
          Buffer.concat([joined, chunked.pending]).equals(stream),
          'held-back bytes are not the rest',
        );
      }
      if (chunked.error !== undefined) throw chunked.error;
    },
    isExpectedError: (e) => e instanceof TlsRecordError,
    show: (i) => JSON.stringify({ stream: i.stream.toString('hex'), cuts: i.cuts, tls13: i.tls13 }),
  };
}
