import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSignedData, decryptEnvelopedData } from '../../../certs/cms/index.js';
import { OutpostError } from '../../../core/errors.js';
import { decodePkiMessage, identifyPkiMessage } from './decode-pki-message.js';
import { decodeGetMessageParam } from './get-message-param.js';
import { fixture, fixtureKey } from './testing/fixtures.js';

/**
 * Property: malformed input of any shape only ever raises OutpostError (never TypeError, RangeError…)
 * and is handled quickly. Mutations start from real captured messages so that they reach deep
 * into the structure (signature check, decryption, payload parsing).
 */
const maxBytes = 64 * 1024;
const raCertDer = fixture('scepserver-ca.crt.der');
const raPrivateKey = fixtureKey('scepserver-ca.key');
const seeds = [
  fixture('scepclient-pkcsreq.der'),
  fixture('scepclient-renewalreq.der'),
  fixture('scepserver-certrep-pkcsreq.der'),
  // strongSwan pki --scep: RSASSA-PSS signer info (parameters parsed), and an unsupported digest
  fixture('strongswan-pss-pkcsreq.der'),
  fixture('strongswan-sha224-pkcsreq.der'),
];
const pkcsReq = seeds[0]!;

/** The envelope inside the real PKCSReq (the eContent), for envelope-level mutations. */
const envelope = decodeSignedData(pkcsReq, { maxBytes }).content!;

function onlyOutpostErrors(decode: () => unknown): boolean {
  try {
    decode();
  } catch (error) {
    if (!(error instanceof OutpostError)) throw error;
  }
  return true;
}

const mutation = (seed: Buffer) =>
  fc.oneof(
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.nat(seed.length - 1),
      value: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(seed.length - 1), value: fc.constant(0) }),
  );

function mutate(seed: Buffer, m: { kind: 'flip' | 'truncate'; at: number; value: number }): Buffer {
  if (m.kind === 'truncate') return seed.subarray(0, m.at);
  const copy = Buffer.from(seed);
  copy[m.at] = m.value;
  return copy;
}

const decoders: { name: string; decode: (bytes: Buffer) => unknown; seeds: Buffer[] }[] = [
  {
    name: 'decodePkiMessage',
    decode: (b) => decodePkiMessage(b, { raCertDer, raPrivateKey, maxBytes }),
    seeds,
  },
  { name: 'identifyPkiMessage', decode: (b) => identifyPkiMessage(b, { maxBytes }), seeds },
  { name: 'decodeSignedData', decode: (b) => decodeSignedData(b, { maxBytes }), seeds },
  {
    name: 'decryptEnvelopedData',
    decode: (b) => decryptEnvelopedData(b, { certDer: raCertDer, privateKey: raPrivateKey }, { maxBytes }),
    seeds: [envelope],
  },
];

describe.each(decoders)('$name never throws anything but OutpostError', ({ decode, seeds: inputs }) => {
  it('on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) =>
        onlyOutpostErrors(() => decode(Buffer.from(bytes))),
      ),
      {
        numRuns: 300,
      },
    );
  });

  it('on DER-looking bytes (SEQUENCE headers, nesting)', () => {
    const tlvish = fc.array(
      fc.constantFrom(0x30, 0x31, 0x80, 0x81, 0x82, 0xa0, 0x04, 0x06, 0x02, 0x00, 0xff, 0x24),
      { maxLength: 512 },
    );
    fc.assert(
      fc.property(tlvish, (bytes) => onlyOutpostErrors(() => decode(Buffer.from(bytes)))),
      { numRuns: 300 },
    );
  });

  it.each(inputs.map((input, i) => ({ input, i })))(
    'on single-byte mutations and truncations of seed $i',
    ({ input }) => {
      fc.assert(
        fc.property(mutation(input), (m) => onlyOutpostErrors(() => decode(mutate(input, m)))),
        { numRuns: 250 },
      );
    },
  );
});

it('deep nesting within the size limit raises DecodeError, not a stack overflow', () => {
  const depth = 20_000;
  const nested = Buffer.concat([
    Buffer.alloc(depth * 2).fill(Buffer.from([0x30, 0x80])),
    Buffer.alloc(depth * 2),
  ]);
  expect(() => decodeSignedData(nested, { maxBytes: nested.length })).toThrow(OutpostError);
  expect(() => decodePkiMessage(nested, { raCertDer, raPrivateKey, maxBytes: nested.length })).toThrow(
    OutpostError,
  );
});

describe('decodeGetMessageParam never throws anything but OutpostError', () => {
  it('on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), (text) =>
        onlyOutpostErrors(() => decodeGetMessageParam(text)),
      ),
      {
        numRuns: 1000,
      },
    );
  });
  it('on base64-alphabet strings with percent escapes', () => {
    const chars = fc.constantFrom(...'ABCxyz019+/-_= %2B%2F%3D%0A%'.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 400 }), (parts) =>
        onlyOutpostErrors(() => decodeGetMessageParam(parts.join(''))),
      ),
      { numRuns: 1000 },
    );
  });
});

it('mutated messages are rejected fast (no pathological slow path)', () => {
  const start = performance.now();
  for (let i = 0; i < 200; i++) {
    onlyOutpostErrors(() =>
      decodePkiMessage(mutate(pkcsReq, { kind: 'flip', at: (i * 37) % pkcsReq.length, value: i }), {
        raCertDer,
        raPrivateKey,
        maxBytes,
      }),
    );
  }
  expect((performance.now() - start) / 200).toBeLessThan(20);
});
