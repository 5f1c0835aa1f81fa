import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allCipherSuites, type CipherSuite, TAG_LENGTH } from './cipher-suites.js';
import { loadEvp } from './evp.js';
import type { TrafficKeys } from './key-schedule.js';
import { ContentType, RECORD_HEADER_LENGTH } from './record.js';
import { canRekey, createOpener, createSealer } from './record-protection.js';

const evp = loadEvp()!;

// One representative per AEAD and version (the key exchange part of a suite plays no role here).
const suites = allCipherSuites().filter(
  (s, i, all) => all.findIndex((o) => o.aead === s.aead && o.version === s.version) === i,
);

function keysFor(suite: CipherSuite): TrafficKeys {
  return { key: randomBytes(suite.keyLength), iv: randomBytes(suite.ivLength) };
}

function seq64(seq: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(seq));
  return b;
}

function xorNonce(iv: Buffer, seq: number): Buffer {
  const nonce = Buffer.from(iv);
  const s = seq64(seq);
  for (let i = 0; i < 8; i++) nonce[4 + i]! ^= s[i]!;
  return nonce;
}

// The node:crypto typings overload per algorithm literal; one of them stands for all three here.
type NodeAead = 'aes-128-gcm';

/**
 * The reference: node:crypto with the nonce and AAD built as the RFCs say (RFC 5288 §3, RFC 7905
 * §2, RFC 8446 §5.2-5.3), independent of the EVP TLS mode under test.
 */
function referenceSeal(
  suite: CipherSuite,
  keys: TrafficKeys,
  seq: number,
  type: number,
  plain: Buffer,
): Buffer {
  const aead = suite.aead as NodeAead;
  if (suite.version === 'TLSv1.3') {
    const inner = Buffer.concat([plain, Buffer.of(type)]);
    const header = Buffer.of(23, 3, 3, 0, 0);
    header.writeUInt16BE(inner.length + TAG_LENGTH, 3);
    const c = createCipheriv(aead, keys.key, xorNonce(keys.iv, seq), { authTagLength: 16 });
    c.setAAD(header);
    return Buffer.concat([header, c.update(inner), c.final(), c.getAuthTag()]);
  }
  const aad = Buffer.concat([seq64(seq), Buffer.of(type, 3, 3, plain.length >> 8, plain.length & 0xff)]);
  const gcm = suite.aead !== 'chacha20-poly1305';
  const explicit = gcm ? randomBytes(8) : Buffer.alloc(0);
  const nonce = gcm ? Buffer.concat([keys.iv, explicit]) : xorNonce(keys.iv, seq);
  const c = createCipheriv(aead, keys.key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plain.length });
  const body = Buffer.concat([explicit, c.update(plain), c.final(), c.getAuthTag()]);
  const header = Buffer.of(type, 3, 3, body.length >> 8, body.length & 0xff);
  return Buffer.concat([header, body]);
}

function referenceOpen(
  suite: CipherSuite,
  keys: TrafficKeys,
  seq: number,
  record: Buffer,
): { type: number; plain: Buffer } {
  const aead = suite.aead as NodeAead;
  const body = record.subarray(RECORD_HEADER_LENGTH);
  const tag = body.subarray(body.length - TAG_LENGTH);
  if (suite.version === 'TLSv1.3') {
    const d = createDecipheriv(aead, keys.key, xorNonce(keys.iv, seq), { authTagLength: 16 });
    d.setAAD(record.subarray(0, RECORD_HEADER_LENGTH));
    d.setAuthTag(tag);
    const inner = Buffer.concat([d.update(body.subarray(0, body.length - TAG_LENGTH)), d.final()]);
    return { type: inner[inner.length - 1]!, plain: inner.subarray(0, inner.length - 1) };
  }
  const gcm = suite.aead !== 'chacha20-poly1305';
  const explicit = gcm ? body.subarray(0, 8) : Buffer.alloc(0);
  const cipherText = body.subarray(explicit.length, body.length - TAG_LENGTH);
  const nonce = gcm ? Buffer.concat([keys.iv, explicit]) : xorNonce(keys.iv, seq);
  const d = createDecipheriv(aead, keys.key, nonce, { authTagLength: 16 });
  d.setAAD(
    Buffer.concat([
      seq64(seq),
      Buffer.of(record[0]!, 3, 3, cipherText.length >> 8, cipherText.length & 0xff),
    ]),
    { plaintextLength: cipherText.length },
  );
  d.setAuthTag(tag);
  return { type: record[0]!, plain: Buffer.concat([d.update(cipherText), d.final()]) };
}

function sealWith(sealer: ReturnType<typeof createSealer>, type: ContentType, plain: Buffer, at = 3): Buffer {
  const buffer = Buffer.alloc(at + RECORD_HEADER_LENGTH + sealer.prefix + plain.length + sealer.suffix + 7);
  plain.copy(buffer, at + RECORD_HEADER_LENGTH + sealer.prefix);
  const n = sealer.seal(buffer, evp.address(buffer), at, type, plain.length);
  return buffer.subarray(at, at + n);
}

describe.each(suites.map((s) => [`${s.version} ${s.aead}`, s] as const))(
  'record protection %s',
  (_, suite) => {
    it('seals records node:crypto opens, with consecutive sequence numbers from any start', () => {
      const keys = keysFor(suite);
      const sealer = createSealer(evp, suite, keys, 5);
      try {
        for (let seq = 5; seq < 9; seq++) {
          const plain = randomBytes(seq * 97);
          const type = seq === 7 ? ContentType.alert : ContentType.applicationData;
          const record = sealWith(sealer, type, plain);
          expect(record.length).toBe(RECORD_HEADER_LENGTH + sealer.prefix + plain.length + sealer.suffix);
          const opened = referenceOpen(suite, keys, seq, record);
          expect(opened.type).toBe(type);
          expect(opened.plain.equals(plain)).toBe(true);
        }
        expect(sealer.sequence).toBe(9);
      } finally {
        sealer.dispose();
      }
    });

    it('opens records node:crypto sealed, and refuses tampered ones or a wrong sequence number', () => {
      const keys = keysFor(suite);
      const opener = createOpener(evp, suite, keys);
      try {
        for (let seq = 0; seq < 3; seq++) {
          const plain = randomBytes(1400 + seq);
          const record = referenceSeal(suite, keys, seq, ContentType.applicationData, plain);
          const copy = Buffer.concat([Buffer.alloc(11), record]);
          expect(opener.open(copy, evp.address(copy), 11, copy.length)).toBe(true);
          expect(opener.type).toBe(ContentType.applicationData);
          expect(copy.subarray(opener.plainStart, opener.plainEnd).equals(plain)).toBe(true);
        }
        const record = referenceSeal(suite, keys, 3, ContentType.applicationData, Buffer.from('hello'));
        for (const flip of [RECORD_HEADER_LENGTH + 1, record.length - 1, 2]) {
          const bad = Buffer.from(record);
          bad[flip]! ^= 1;
          opener.seek(3);
          let opened: boolean | Error;
          try {
            opened = opener.open(bad, evp.address(bad), 0, bad.length);
          } catch (e) {
            opened = e as Error;
          }
          expect(opened === false || opened instanceof Error).toBe(true);
        }
        opener.seek(4);
        const early = Buffer.from(record);
        expect(opener.open(early, evp.address(early), 0, early.length)).toBe(false);
        opener.seek(3);
        const good = Buffer.from(record);
        expect(opener.open(good, evp.address(good), 0, good.length)).toBe(true);
      } finally {
        opener.dispose();
      }
    });

    it('releases its context when idle and makes it again for the next record, sequence intact', () => {
      const keys = keysFor(suite);
      const sealer = createSealer(evp, suite, keys, 40);
      const opener = createOpener(evp, suite, keys, 40);
      try {
        for (let seq = 40; seq < 44; seq++) {
          if (seq % 2 === 0) {
            sealer.release();
            opener.release();
            expect(sealer.holdsContext || opener.holdsContext).toBe(false);
          }
          const plain = Buffer.from(`record ${seq}`);
          const record = Buffer.from(sealWith(sealer, ContentType.applicationData, plain));
          expect(referenceOpen(suite, keys, seq, record).plain.equals(plain)).toBe(true);
          // A GCM sealer's explicit nonce is the sequence number, across re-made contexts too.
          if (sealer.prefix === 8) expect(record.readBigUInt64BE(RECORD_HEADER_LENGTH)).toBe(BigInt(seq));
          expect(opener.open(record, evp.address(record), 0, record.length)).toBe(true);
          expect(record.subarray(opener.plainStart, opener.plainEnd).equals(plain)).toBe(true);
        }
        expect(sealer.holdsContext && opener.holdsContext).toBe(true);
      } finally {
        sealer.dispose();
        opener.dispose();
      }
    });

    it('round-trips any payload (fast-check)', () => {
      const keys = keysFor(suite);
      const sealer = createSealer(evp, suite, keys);
      const opener = createOpener(evp, suite, keys);
      try {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 16384 }), fc.constantFrom(21, 22, 23), (bytes, type) => {
            const plain = Buffer.from(bytes);
            const record = Buffer.from(sealWith(sealer, type as ContentType, plain));
            expect(opener.open(record, evp.address(record), 0, record.length)).toBe(true);
            expect(opener.type).toBe(type);
            expect(record.subarray(opener.plainStart, opener.plainEnd).equals(plain)).toBe(true);
          }),
          { numRuns: 200 },
        );
      } finally {
        sealer.dispose();
        opener.dispose();
      }
    });
  },
);

describe.each(suites.filter((s) => s.version === 'TLSv1.3').map((s) => [s.aead, s] as const))(
  'TLS 1.3 KeyUpdate %s',
  (_, suite) => {
    it('switches to new keys at sequence 0 after a KeyUpdate', () => {
      const first = keysFor(suite);
      const next = keysFor(suite);
      const sealer = createSealer(evp, suite, first, 41);
      try {
        if (!canRekey(sealer)) throw new Error('a TLS 1.3 sealer can rekey');
        sealer.rekey(next);
        expect(sealer.sequence).toBe(0);
        const record = sealWith(sealer, ContentType.applicationData, Buffer.from('after update'));
        expect(referenceOpen(suite, next, 0, record).plain.toString()).toBe('after update');
      } finally {
        sealer.dispose();
      }
    });
  },
);

describe('record protection limits', () => {
  const suite = suites.find((s) => s.version === 'TLSv1.3')!;
  it('refuses TLS 1.3 records that are too short or not application_data on the outside', () => {
    const opener = createOpener(evp, suite, keysFor(suite));
    try {
      const short = Buffer.of(23, 3, 3, 0, 16, ...new Array(16).fill(0));
      expect(() => opener.open(short, evp.address(short), 0, short.length)).toThrow(/fragment of 16 bytes/);
      const ccs = Buffer.of(20, 3, 3, 0, 1, 1);
      expect(() => opener.open(ccs, evp.address(ccs), 0, ccs.length)).toThrow(
        /unprotected record of type 20/,
      );
    } finally {
      opener.dispose();
    }
  });

  it('stops at the sequence limit instead of wrapping', () => {
    const sealer = createSealer(evp, suite, keysFor(suite), 2 ** 48);
    try {
      expect(() => sealWith(sealer, ContentType.applicationData, Buffer.from('x'))).toThrow(/exhausted/);
    } finally {
      sealer.dispose();
    }
  });
});
