import { describe, expect, it } from 'vitest';
import { DecodeError } from '../core/errors.js';
import { firstDer, pemBlocks, toPem } from './pem.js';

describe('pem', () => {
  const der = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

  it('round-trips DER through PEM with 64-column lines', () => {
    const pem = toPem('CERTIFICATE', der);
    expect(pem.split('\n').every((l) => l.length <= 64)).toBe(true);
    expect(pemBlocks(pem)).toEqual([{ label: 'CERTIFICATE', der }]);
  });

  it('finds blocks among text and picks by label', () => {
    const text = `junk\n${toPem('PRIVATE KEY', Buffer.from([1]))}between\r\n${toPem('CERTIFICATE', der).replace(/\n/g, '\r\n')}`;
    expect(pemBlocks(text).map((b) => b.label)).toEqual(['PRIVATE KEY', 'CERTIFICATE']);
    expect(firstDer(text, 'CERTIFICATE')).toEqual(der);
  });

  it('skips RFC 1421 encapsulated headers', () => {
    const text =
      '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAEC\n-----END RSA PRIVATE KEY-----\n';
    expect(firstDer(text, 'RSA PRIVATE KEY')).toEqual(Buffer.from([0, 1, 2]));
  });

  it.each([
    ['missing label', toPem('CERTIFICATE', der), 'CRL'],
    ['label mismatch', '-----BEGIN A-----\nAAEC\n-----END B-----', 'A'],
    ['not base64', '-----BEGIN A-----\nAA!C\n-----END A-----', 'A'],
  ])('throws DecodeError: %s', (_name, text, label) => {
    expect(() => firstDer(text, label)).toThrow(DecodeError);
  });
});
