import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CipherSuite } from '../tls/cipher-suites.js';
import { loadEvp } from '../tls/evp.js';
import { pskSuites } from './cipher-suites.js';
import { splitDatagram } from './codec/record.js';
import { DtlsRecordProtection } from './record-protection.js';
import { fixedBytes } from './testing/test-client.js';

const evp = loadEvp()!;

function sealOne(
  suite: CipherSuite,
  keys: { key: Buffer; iv: Buffer },
  epoch: number,
  seq: number,
  plain: Buffer,
) {
  const sealer = new DtlsRecordProtection(evp, suite, keys, true, epoch, seq);
  const buffer = Buffer.alloc(sealer.overhead + plain.length);
  plain.copy(buffer, 13 + sealer.prefix);
  const record = buffer.subarray(0, sealer.seal(buffer, evp.address(buffer), 0, 23, plain.length));
  sealer.dispose();
  return record;
}

/** The record as RFC 6347 §4.1.2.1 + RFC 5288 / RFC 7905 define it, computed with createCipheriv. */
function reference(
  suite: CipherSuite,
  keys: { key: Buffer; iv: Buffer },
  epoch: number,
  seq: number,
  plain: Buffer,
) {
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeUInt16BE(epoch, 0);
  seqBytes.writeUIntBE(seq, 2, 6);
  const aad = Buffer.concat([seqBytes, Buffer.of(23, 0xfe, 0xfd, plain.length >> 8, plain.length & 0xff)]);
  const chacha = suite.aead === 'chacha20-poly1305';
  // GCM: the explicit nonce is a counter that starts at the sealer's first sequence number.
  const explicit = Buffer.alloc(chacha ? 0 : 8);
  if (!chacha) explicit.writeUIntBE(seq, 2, 6);
  // ChaCha20: IV XOR (0000 ‖ epoch ‖ sequence).
  const padded = Buffer.concat([Buffer.alloc(4), seqBytes]);
  const nonce = chacha
    ? Buffer.from(keys.iv.map((b, i) => b ^ padded[i]!))
    : Buffer.concat([keys.iv, explicit]);
  const cipher = createCipheriv(suite.aead as 'aes-128-gcm', keys.key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad);
  const body = Buffer.concat([explicit, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  const header = Buffer.concat([
    Buffer.of(23, 0xfe, 0xfd),
    seqBytes,
    Buffer.of(body.length >> 8, body.length & 0xff),
  ]);
  return Buffer.concat([header, body]);
}

const suites = [pskSuites.aes128Gcm, pskSuites.aes256Gcm, pskSuites.chacha20];

describe('DTLS 1.2 record protection', () => {
  it.each(suites.map((s) => [s.name, s] as const))(
    '%s seals what RFC 6347 + the AEAD RFC specify',
    (_n, suite) => {
      const keys = { key: fixedBytes('key', suite.keyLength), iv: fixedBytes('iv', suite.ivLength) };
      for (const [epoch, seq] of [
        [1, 0],
        [1, 5],
        [2, 2 ** 40 + 7],
      ] as const) {
        const plain = fixedBytes(`plain ${seq}`, 100);
        expect(sealOne(suite, keys, epoch, seq, plain).toString('hex')).toBe(
          reference(suite, keys, epoch, seq, plain).toString('hex'),
        );
      }
    },
  );

  it.each(suites.map((s) => [s.name, s] as const))(
    '%s opens its records and refuses any changed byte',
    (_n, suite) => {
      const keys = { key: fixedBytes('key2', suite.keyLength), iv: fixedBytes('iv2', suite.ivLength) };
      const record = sealOne(suite, keys, 1, 9, Buffer.from('a CSTP payload'));
      const opener = new DtlsRecordProtection(evp, suite, keys, false, 1);
      const copy = Buffer.from(record);
      expect(opener.open(copy, evp.address(copy), 0, copy.length)).toBe(true);
      expect(copy.subarray(opener.plainStart, opener.plainEnd).toString()).toBe('a CSTP payload');
      for (let i = 0; i < record.length; i++) {
        const bad = Buffer.from(record);
        bad[i]! ^= 0x01;
        let opened = false;
        try {
          const [view] = splitDatagram(bad);
          opened = opener.open(bad, evp.address(bad), view!.start, view!.end);
        } catch {
          opened = false;
        }
        expect(opened, `byte ${i}`).toBe(false);
      }
      expect(opener.open(Buffer.from(record.subarray(0, 20)), evp.address(record), 0, 20)).toBe(false);
      opener.dispose();
    },
  );

  it('numbers its records from the initial sequence number, in the given epoch', () => {
    const suite = pskSuites.aes128Gcm;
    const sealer = new DtlsRecordProtection(
      evp,
      suite,
      { key: Buffer.alloc(16), iv: Buffer.alloc(4) },
      true,
      3,
      41,
    );
    const seqs = [0, 1, 2].map(() => {
      const b = Buffer.alloc(sealer.overhead + 1);
      sealer.seal(b, evp.address(b), 0, 23, 1);
      return [b.readUInt16BE(3), b.readUIntBE(5, 6)];
    });
    expect(seqs).toEqual([
      [3, 41],
      [3, 42],
      [3, 43],
    ]);
    // The context can be freed while idle and made again: the explicit nonce keeps counting.
    sealer.release();
    const b = Buffer.alloc(sealer.overhead + 1);
    sealer.seal(b, evp.address(b), 0, 23, 1);
    expect(b.readBigUInt64BE(13)).toBe(44n);
    sealer.dispose();
  });
});
