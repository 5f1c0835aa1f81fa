import { createPublicKey, X509Certificate } from 'node:crypto';
import * as fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { keysMatch, loadPrivateKey } from '../keys.js';
import { firstDer } from '../pem.js';
import { caHierarchyPki } from '../testing/pki-presets.js';
import { buildPlainPkcs12 } from '../testing/plain-pkcs12.js';
import type { TestPki } from '../testing/test-pki.js';
import { readPkcs12 } from './read-pkcs12.js';

let pki: TestPki;
beforeAll(() => {
  pki = caHierarchyPki();
});
afterAll(() => pki.cleanup());

const certDer = (name: string) => firstDer(pki.read(`${name}.pem`).toString(), 'CERTIFICATE');
const publicKeyOf = (name: string) => new X509Certificate(certDer(name)).publicKey;

function expectCode(run: () => unknown, code: string): OutpostError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(OutpostError);
    expect((e as OutpostError).code).toBe(code);
    return e as OutpostError;
  }
  throw new Error('expected a throw');
}

describe('readPkcs12 with files from openssl pkcs12 -export', () => {
  it('reads the default (PBES2 AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC) with its attributes', () => {
    const der = pki.pkcs12('root', 'correct horse', ['-name', 'Outpost CA']);
    const { certificates, keys } = readPkcs12(der, 'correct horse');
    expect(certificates).toEqual([certDer('root')]);
    expect(keys).toHaveLength(1);
    const [key] = keys;
    expect(keysMatch(key!.privateKey, publicKeyOf('root'))).toBe(true);
    expect(key!.friendlyName).toBe('Outpost CA');
    // openssl sets localKeyId to the SHA-1 of the certificate
    expect(key!.localKeyId?.toString('hex')).toBe(
      new X509Certificate(certDer('root')).fingerprint.replace(/:/g, '').toLowerCase(),
    );
  });

  it.each([
    ['AES-128 with a SHA-1 MAC', ['-certpbe', 'AES-128-CBC', '-keypbe', 'AES-128-CBC', '-macalg', 'sha1']],
    [
      'AES-192 with a SHA-384 MAC',
      ['-certpbe', 'AES-192-CBC', '-keypbe', 'AES-192-CBC', '-macalg', 'sha384'],
    ],
    [
      'PBES2 3DES with a SHA-512 MAC',
      ['-certpbe', 'DES-EDE3-CBC', '-keypbe', 'DES-EDE3-CBC', '-macalg', 'sha512'],
    ],
    ['legacy PKCS#12 PBE 3DES', ['-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES', '-macalg', 'sha1']],
    ['legacy PKCS#12 PBE 2-key 3DES', ['-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-2DES']],
    ['unencrypted certificates', ['-certpbe', 'NONE']],
    ['no MAC', ['-nomac']],
    ['many iterations', ['-iter', '20000', '-maciter']],
  ])('reads %s', (_name, options) => {
    const { certificates, keys } = readPkcs12(pki.pkcs12('root', 'pw', options), 'pw');
    expect(certificates).toEqual([certDer('root')]);
    expect(keys).toHaveLength(1);
    expect(keysMatch(keys[0]!.privateKey, publicKeyOf('root'))).toBe(true);
  });

  it('reads an EC key with its chain (issuing CA + root)', () => {
    const der = pki.pkcs12('inter', 'pw', ['-certfile', 'root.pem']);
    const { certificates, keys } = readPkcs12(der, 'pw');
    expect(certificates).toHaveLength(2);
    expect(certificates).toContainEqual(certDer('inter'));
    expect(certificates).toContainEqual(certDer('root'));
    expect(keys).toHaveLength(1);
    expect(keys[0]!.privateKey.asymmetricKeyType).toBe('ec');
    expect(keysMatch(keys[0]!.privateKey, publicKeyOf('inter'))).toBe(true);
  });

  it('encodes passwords as OpenSSL does: BMPString for the MAC, UTF-8 for PBES2, and the empty password', () => {
    const unicode = 'pässwörd € 🔑';
    expect(readPkcs12(pki.pkcs12('root', unicode), unicode).keys).toHaveLength(1);
    expect(
      readPkcs12(
        pki.pkcs12('root', unicode, ['-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES']),
        unicode,
      ).keys,
    ).toHaveLength(1);
    expect(readPkcs12(pki.pkcs12('root', ''), '').keys).toHaveLength(1);
  });

  it('reports a wrong password as badSignature, with or without a MAC', () => {
    expectCode(() => readPkcs12(pki.pkcs12('root', 'right'), 'wrong'), ErrorCodes.badSignature);
    expectCode(
      () => readPkcs12(pki.pkcs12('root', 'right', ['-macalg', 'sha1']), ''),
      ErrorCodes.badSignature,
    );
    for (let i = 0; i < 4; i++) {
      const der = pki.pkcs12('root', 'right', ['-nomac']);
      expectCode(() => readPkcs12(der, `wrong ${i}`), ErrorCodes.badSignature);
    }
  });

  it('refuses RC2 (openssl -legacy) with the re-export advice', () => {
    const error = expectCode(
      () => readPkcs12(pki.pkcs12('root', 'pw', ['-legacy']), 'pw'),
      ErrorCodes.unsupportedAlgorithm,
    );
    expect(error.clientMessage).toContain('RC2-40');
    expect(error.clientMessage).toContain('openssl pkcs12 -export -certpbe AES-256-CBC -keypbe AES-256-CBC');
    // the MAC still tells a wrong password apart from the unsupported cipher
    expectCode(() => readPkcs12(pki.pkcs12('root', 'pw', ['-legacy']), 'nope'), ErrorCodes.badSignature);
  });

  it('returns a usable key object (exports as PKCS#8, matches the RA certificate)', () => {
    const { keys } = readPkcs12(pki.pkcs12('ra', 'pw'), 'pw');
    const pem = keys[0]!.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(createPublicKey(loadPrivateKey(pem).privateKey).export({ type: 'spki', format: 'der' })).toEqual(
      publicKeyOf('ra').export({ type: 'spki', format: 'der' }),
    );
  });
});

describe('readPkcs12 with hand-built files', () => {
  const two = () => ({
    keys: [
      { privateKey: loadPrivateKey(pki.read('root.key')).privateKey, localKeyId: Buffer.from('root') },
      { privateKey: loadPrivateKey(pki.read('ra.key')).privateKey },
    ],
    certificates: [certDer('root'), certDer('ra')],
  });

  it('reads plain keyBags, several keys, with a SHA-256 MAC', () => {
    const { certificates, keys } = readPkcs12(buildPlainPkcs12(two(), 'pw', 'sha256'), 'pw');
    expect(certificates).toEqual([certDer('root'), certDer('ra')]);
    expect(keys.map((k) => k.localKeyId?.toString())).toEqual(['root', undefined]);
    expect(keysMatch(keys[1]!.privateKey, publicKeyOf('ra'))).toBe(true);
  });

  it('verifies a PBMAC1 MAC (RFC 9579)', () => {
    expect(readPkcs12(buildPlainPkcs12(two(), 'pw', 'pbmac1'), 'pw').keys).toHaveLength(2);
    expectCode(() => readPkcs12(buildPlainPkcs12(two(), 'pw', 'pbmac1'), 'px'), ErrorCodes.badSignature);
  });
});

describe('readPkcs12 on hostile input', () => {
  it('rejects oversized, empty and non-PKCS#12 input with DecodeError', () => {
    expectCode(() => readPkcs12(Buffer.alloc(1024 * 1024 + 1, 0x30), 'pw'), ErrorCodes.decode);
    expectCode(() => readPkcs12(Buffer.alloc(0), 'pw'), ErrorCodes.decode);
    expectCode(() => readPkcs12(certDer('root'), 'pw'), ErrorCodes.decode);
  });

  it('only ever throws OutpostError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        try {
          readPkcs12(bytes, 'pw');
        } catch (e) {
          expect(e).toBeInstanceOf(OutpostError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['with a MAC', ['-macalg', 'sha1']],
    ['without a MAC', ['-nomac']],
    ['legacy 3DES without a MAC', ['-nomac', '-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES']],
  ])('only ever throws OutpostError on a mutated valid file (%s)', (_name, options) => {
    const valid = pki.pkcs12('inter', 'pw', options);
    const mutation = fc.record({
      at: fc.nat({ max: valid.length - 1 }),
      value: fc.integer({ min: 0, max: 255 }),
      cut: fc.option(fc.nat({ max: valid.length }), { nil: undefined }),
    });
    fc.assert(
      fc.property(mutation, ({ at, value, cut }) => {
        const bytes = Buffer.from(valid);
        bytes[at] = value;
        try {
          readPkcs12(cut === undefined ? bytes : bytes.subarray(0, cut), 'pw');
        } catch (e) {
          expect(e).toBeInstanceOf(OutpostError);
        }
      }),
      { numRuns: 150 },
    );
  });
});
