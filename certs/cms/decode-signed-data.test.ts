import { describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { decodeSignedData } from './decode-signed-data.js';
import { Oid } from './oids.js';
import { fixture } from './testing/fixtures.js';
import { verifySignerInfo } from './verify-signer-info.js';

const content = fixture('content.txt');
const limits = { maxBytes: 64 * 1024 };

describe('decodeSignedData + verifySignerInfo on openssl cms -sign output', () => {
  it.each([
    {
      file: 'signed-rsa-sha256.der',
      cert: 'rsa.crt.der',
      digest: Oid.sha256,
      sid: 'issuerAndSerial',
      attrs: true,
    },
    {
      file: 'signed-rsa-sha1-noattr.der',
      cert: 'rsa.crt.der',
      digest: Oid.sha1,
      sid: 'issuerAndSerial',
      attrs: false,
    },
    {
      file: 'signed-rsa-keyid.der',
      cert: 'rsa.crt.der',
      digest: Oid.sha512,
      sid: 'subjectKeyIdentifier',
      attrs: true,
    },
    {
      file: 'signed-ec-sha384.der',
      cert: 'ec.crt.der',
      digest: Oid.sha384,
      sid: 'issuerAndSerial',
      attrs: true,
    },
    {
      file: 'signed-rsa-ber.der',
      cert: 'rsa.crt.der',
      digest: Oid.sha256,
      sid: 'issuerAndSerial',
      attrs: true,
    },
  ])('$file', ({ file, cert, digest, sid, attrs }) => {
    const decoded = decodeSignedData(fixture(file), limits);
    expect(decoded.encapContentType).toBe(Oid.data);
    expect(decoded.content).toEqual(content);
    expect(decoded.certificates).toEqual([fixture(cert)]);
    expect(decoded.signers).toHaveLength(1);
    const signer = decoded.signers[0]!;
    expect(signer.sid.kind).toBe(sid);
    expect(signer.digestAlgorithm.oid).toBe(digest);
    expect(signer.signedAttrsDer !== undefined).toBe(attrs);
    if (attrs) expect(signer.signedAttrsDer![0]).toBe(0x31);
    verifySignerInfo(signer, fixture(cert), decoded.content!, Oid.data);
  });

  it.each([
    { name: 'other content', cert: 'rsa.crt.der', content: Buffer.from('tampered') },
    { name: 'other key', cert: 'other.crt.der', content },
    { name: 'key of the wrong type', cert: 'ec.crt.der', content },
  ])('rejects $name with badSignature', ({ cert, content: body }) => {
    const signer = decodeSignedData(fixture('signed-rsa-sha256.der'), limits).signers[0]!;
    expect(() => verifySignerInfo(signer, fixture(cert), body)).toThrow(
      expect.objectContaining({ code: ErrorCodes.badSignature }),
    );
  });

  it('rejects a signature over content without attributes when content changed', () => {
    const signer = decodeSignedData(fixture('signed-rsa-sha1-noattr.der'), limits).signers[0]!;
    expect(() => verifySignerInfo(signer, fixture('rsa.crt.der'), Buffer.from('x'))).toThrow(OutpostError);
  });

  it('rejects a flipped signature byte', () => {
    const signer = decodeSignedData(fixture('signed-rsa-sha256.der'), limits).signers[0]!;
    signer.signature[10]! ^= 1;
    expect(() => verifySignerInfo(signer, fixture('rsa.crt.der'), content)).toThrow(
      expect.objectContaining({ code: ErrorCodes.badSignature }),
    );
  });

  it.each([
    { name: 'oversized', der: Buffer.alloc(100, 0x30), maxBytes: 99 },
    { name: 'empty', der: Buffer.alloc(0), maxBytes: 99 },
    { name: 'not ContentInfo', der: Buffer.from('0500', 'hex'), maxBytes: 99 },
    { name: 'EnvelopedData instead', der: fixture('enveloped-aes-256-cbc.der'), maxBytes: 9999 },
    {
      name: 'trailing garbage',
      der: Buffer.concat([fixture('signed-rsa-sha256.der'), Buffer.from([0])]),
      maxBytes: 9999,
    },
  ])('throws DecodeError for $name', ({ der, maxBytes }) => {
    expect(() => decodeSignedData(der, { maxBytes })).toThrow(
      expect.objectContaining({ code: ErrorCodes.decode }),
    );
  });
});
