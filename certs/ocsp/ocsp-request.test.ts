import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../core/errors.js';
import { sequence } from '../der-writer.js';
import { OCSP_REQUEST_LIMITS, parseOcspRequest } from './ocsp-request.js';
import { buildOcspRequest } from './ocsp-request-builder.js';

/**
 * Captured with OpenSSL 3.0 `openssl ocsp -issuer ca.pem -cert leaf.pem -reqout …` against a
 * P-256 "CN=Fixture CA" and a leaf with serial 0x0123456789abcdef.
 */
const FIXTURES = {
  sha1Nonce:
    '306e306c304530433041300906052b0e03021a0500041489e3ae50fb04f1f0f54735a1a53fd87ea68aab2804144698730911e7e92568a7c20336a66cff713b456a02080123456789abcdefa2233021301f06092b06010505073001020412041051ab451464a7a3d88c9742eda1af600a',
  // -no_nonce
  sha1: '30493047304530433041300906052b0e03021a0500041489e3ae50fb04f1f0f54735a1a53fd87ea68aab2804144698730911e7e92568a7c20336a66cff713b456a02080123456789abcdef',
  // -sha256 -cert leaf.pem -serial 0x80 -serial 5
  sha256Multi:
    '308201433082013f30820116305f305d300d060960864801650304020105000420ae34df07beb67ad6ecc3084c60627adc9c7137fa650ff3e44e1e0adca782b6d90420982491b7424021eecb0d73059e8c6e81fee5bae3a8b661da7d0d29366f241a6602080123456789abcdef30593057300d060960864801650304020105000420ae34df07beb67ad6ecc3084c60627adc9c7137fa650ff3e44e1e0adca782b6d90420982491b7424021eecb0d73059e8c6e81fee5bae3a8b661da7d0d29366f241a660202008030583056300d060960864801650304020105000420ae34df07beb67ad6ecc3084c60627adc9c7137fa650ff3e44e1e0adca782b6d90420982491b7424021eecb0d73059e8c6e81fee5bae3a8b661da7d0d29366f241a66020105a2233021301f06092b060105050730010204120410435942261bdb01068558d035107e40e7',
  // -signer leaf.pem -signkey leaf.key: requestorName, signature and the signer's certificate
  signed:
    '30820200308181a113a411300f310d300b06035504030c046c656166304530433041300906052b0e03021a0500041489e3ae50fb04f1f0f54735a1a53fd87ea68aab2804144698730911e7e92568a7c20336a66cff713b456a02080123456789abcdefa2233021301f06092b06010505073001020412041020e2c2419bc8468f5fd573a352f27e16a082017830820174300a06082a8648ce3d040302034800304502201e566134f8f2ae02589b60169240677557b0269eacd0662760c6b81276840a7b022100935bcd58f0a1389b84ff24f1588eeeb511c4fb9ec7f647f77845ae2014c0ee91a082011a30820116308201123081b902080123456789abcdef300a06082a8648ce3d04030230153113301106035504030c0a46697874757265204341301e170d3236313132363139323032315a170d3237313132363139323032315a300f310d300b06035504030c046c6561663059301306072a8648ce3d020106082a8648ce3d030107034200042d8674a300da58d9da72ce62d5687761f6daae1e65f85579698072be19e0650e39c91be54d10efd40d8e53d80998584217ad29b05b948ca7e3b859ecfd8afd7d300a06082a8648ce3d0403020348003045022100ed743b803cedc995d203c52a0553bafdc21413f5056879438582359eb39f8ba102202668425e7e25591254c2454d8acf71f859b438c9d3fa8044e645c5d5c6d9eeb8',
} as const;

const SHA1_NAME = '89e3ae50fb04f1f0f54735a1a53fd87ea68aab28';
const SHA1_KEY = '4698730911e7e92568a7c20336a66cff713b456a';
const SHA256_NAME = 'ae34df07beb67ad6ecc3084c60627adc9c7137fa650ff3e44e1e0adca782b6d9';
const SHA256_KEY = '982491b7424021eecb0d73059e8c6e81fee5bae3a8b661da7d0d29366f241a66';

const hex = (h: string) => Buffer.from(h, 'hex');

describe('parseOcspRequest on OpenSSL requests', () => {
  it.each([
    ['sha1Nonce', 'sha1', SHA1_NAME, SHA1_KEY, ['0123456789abcdef'], '041051ab451464a7a3d88c9742eda1af600a'],
    ['sha1', 'sha1', SHA1_NAME, SHA1_KEY, ['0123456789abcdef'], undefined],
    [
      'sha256Multi',
      'sha256',
      SHA256_NAME,
      SHA256_KEY,
      ['0123456789abcdef', '0080', '05'],
      '0410435942261bdb01068558d035107e40e7',
    ],
    ['signed', 'sha1', SHA1_NAME, SHA1_KEY, ['0123456789abcdef'], '041020e2c2419bc8468f5fd573a352f27e16'],
  ] as const)('%s', (name, hash, nameHash, keyHash, serials, nonce) => {
    const request = parseOcspRequest(hex(FIXTURES[name]));
    expect(request.certIds.map((id) => id.serialHex)).toEqual(serials);
    for (const id of request.certIds) {
      expect(id.hash).toBe(hash);
      expect(id.issuerNameHash.toString('hex')).toBe(nameHash);
      expect(id.issuerKeyHash.toString('hex')).toBe(keyHash);
      // The CertID is kept verbatim for the response, starting with its SEQUENCE header.
      expect(FIXTURES[name]).toContain(id.der.toString('hex'));
      expect(id.der[0]).toBe(0x30);
    }
    expect(request.nonce?.toString('hex')).toBe(nonce);
  });

  it('keeps an unknown hash algorithm (answered unknown, not malformed)', () => {
    const md5 = hex('300c06082a864886f70d02050500'); // 1.2.840.113549.2.5
    const certId = sequence(md5, hex(`0410${'11'.repeat(16)}`), hex(`0410${'22'.repeat(16)}`), hex('020105'));
    const [id] = parseOcspRequest(buildOcspRequest([certId])).certIds;
    expect(id!.hash).toBeUndefined();
    expect(id!.hashOid).toBe('1.2.840.113549.2.5');
    expect(id!.serialHex).toBe('05');
  });
});

/** A request around one CertID-shaped element with the given request extensions. */
function withExtensions(...extensions: Buffer[]): Buffer {
  const certId = parseOcspRequest(hex(FIXTURES.sha1)).certIds[0]!.der;
  return sequence(
    sequence(
      sequence(sequence(certId)),
      Buffer.concat([Buffer.from([0xa2]), lengthOf(sequence(...extensions))]),
    ),
  );
}

function lengthOf(content: Buffer): Buffer {
  // content is a finished TLV; prefix a DER length for the [2] wrapper
  const n = content.length;
  const header = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from(header), content]);
}

const nonceExtension = (inner: Buffer) =>
  sequence(hex('06092b0601050507300102'), Buffer.concat([Buffer.from([0x04, inner.length]), inner]));

describe('parseOcspRequest refuses malformed requests with DecodeError', () => {
  const certId = parseOcspRequest(hex(FIXTURES.sha1)).certIds[0]!.der;
  it.each([
    ['empty', Buffer.alloc(0)],
    ['trailing bytes', Buffer.concat([hex(FIXTURES.sha1), Buffer.from([0])])],
    ['truncated', hex(FIXTURES.sha1).subarray(0, 40)],
    ['empty requestList', sequence(sequence(sequence()))],
    ['version 2', sequence(sequence(hex('a003020101'), sequence(sequence(certId))))],
    [
      'CertID with 3 fields',
      sequence(
        sequence(sequence(sequence(sequence(hex('300906052b0e03021a0500'), hex('0400'), hex('0400'))))),
      ),
    ],
    ['too many CertIDs', sequence(sequence(sequence(...Array.from({ length: 33 }, () => sequence(certId)))))],
    ['nonce of 33 octets (RFC 8954)', withExtensions(nonceExtension(hex(`0421${'ab'.repeat(33)}`)))],
    ['empty nonce', withExtensions(nonceExtension(hex('0400')))],
    ['nonce not an OCTET STRING', withExtensions(nonceExtension(hex('020101')))],
    ['nonce twice', withExtensions(nonceExtension(hex('0401aa')), nonceExtension(hex('0401bb')))],
    [
      'unknown critical extension',
      withExtensions(sequence(hex('06032a0304'), hex('0101ff'), hex('04020500'))),
    ],
    ['too large', Buffer.concat([hex('3083010000'), Buffer.alloc(OCSP_REQUEST_LIMITS.maxBytes)])],
  ])('%s', (_name, der) => {
    expect(() => parseOcspRequest(der)).toThrow(DecodeError);
  });

  it('ignores an unknown non-critical extension and accepts 1- and 32-octet nonces', () => {
    expect(
      parseOcspRequest(withExtensions(sequence(hex('06032a0304'), hex('04020500')))).nonce,
    ).toBeUndefined();
    for (const n of [1, 32]) {
      const inner = Buffer.concat([Buffer.from([0x04, n]), Buffer.alloc(n, 7)]);
      expect(parseOcspRequest(withExtensions(nonceExtension(inner))).nonce).toEqual(inner);
    }
  });
});

describe('parseOcspRequest properties', () => {
  const onlyDecodeErrors = (bytes: Uint8Array): boolean => {
    try {
      parseOcspRequest(bytes);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
    return true;
  };
  const seeds = Object.values(FIXTURES).map(hex);

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1024 }), onlyDecodeErrors), { numRuns: 500 });
  });

  it('never throws anything but DecodeError on mutated OpenSSL requests', () => {
    const mutated = fc
      .tuple(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
      )
      .map(([seed, flips, cut]) => {
        const copy = Buffer.from(seed);
        for (const [at, value] of flips) copy[at % copy.length] = value;
        return cut % 3 === 0 ? copy.subarray(0, cut % copy.length) : copy;
      });
    fc.assert(fc.property(mutated, onlyDecodeErrors), { numRuns: 2000 });
  });

  it('reads back any request the builder writes (CertIDs verbatim, nonce, serials)', () => {
    const certId = fc
      .record({
        nameHash: fc.uint8Array({ minLength: 20, maxLength: 64 }),
        keyHash: fc.uint8Array({ minLength: 20, maxLength: 64 }),
        serial: fc.uint8Array({ minLength: 1, maxLength: 20 }),
      })
      .map(({ nameHash, keyHash, serial }) =>
        sequence(
          hex('300d06096086480165030402010500'),
          Buffer.concat([Buffer.from([0x04, nameHash.length]), nameHash]),
          Buffer.concat([Buffer.from([0x04, keyHash.length]), keyHash]),
          Buffer.concat([Buffer.from([0x02, serial.length]), serial]),
        ),
      );
    fc.assert(
      fc.property(
        fc.array(certId, { minLength: 1, maxLength: OCSP_REQUEST_LIMITS.maxCertIds }),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 32 }), { nil: undefined }),
        (ids, nonce) => {
          const parsed = parseOcspRequest(buildOcspRequest(ids, nonce));
          expect(parsed.certIds.map((id) => id.der)).toEqual(ids);
          expect(parsed.certIds.every((id) => id.hash === 'sha256')).toBe(true);
          if (nonce) expect(parsed.nonce?.subarray(2)).toEqual(Buffer.from(nonce));
          else expect(parsed.nonce).toBeUndefined();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('bounds the work: a maximal request parses in well under the request time limit', () => {
    const ids = Array.from(
      { length: OCSP_REQUEST_LIMITS.maxCertIds },
      () => parseOcspRequest(hex(FIXTURES.sha256Multi)).certIds[0]!.der,
    );
    const der = buildOcspRequest(ids, Buffer.alloc(32, 1));
    expect(der.length).toBeLessThan(OCSP_REQUEST_LIMITS.maxBytes);
    expect(parseOcspRequest(der).certIds).toHaveLength(OCSP_REQUEST_LIMITS.maxCertIds);
  });
});
