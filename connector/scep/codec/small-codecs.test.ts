import { describe, expect, it } from 'vitest';
import { decodeSignedData } from '../../../certs/cms/index.js';
import { ErrorCodes } from '../../../core/errors.js';
import { encodeCaCertResponse } from './ca-cert-response.js';
import { capabilities } from './capabilities.js';
import { decodeGetMessageParam } from './get-message-param.js';
import { fixture } from './testing/fixtures.js';

describe('decodeGetMessageParam', () => {
  // bytes whose base64 uses + and / (and so - and _ in the URL-safe alphabet)
  const bytes = Buffer.from('fbff3e3f00fe', 'hex');
  const standard = bytes.toString('base64'); // '+/8+PwD+'
  it.each([
    { name: 'standard', param: standard },
    { name: 'standard, percent-encoded (certmonger)', param: encodeURIComponent(standard) },
    { name: 'URL-safe (scepclient GET)', param: bytes.toString('base64url') },
    { name: 'form-decoded + as space', param: standard.replaceAll('+', ' ') },
    { name: 'with line breaks', param: `${standard.slice(0, 4)}%0A${standard.slice(4)}` },
    {
      name: 'padded',
      param: Buffer.from('fbff3e3f00', 'hex').toString('base64'),
      expected: Buffer.from('fbff3e3f00', 'hex'),
    },
  ])('$name', ({ param, expected }) => {
    expect(decodeGetMessageParam(param)).toEqual(expected ?? bytes);
  });

  it.each([
    { name: 'empty', param: '' },
    { name: 'bad percent', param: '%zz' },
    { name: 'not base64', param: 'ab*d' },
    { name: 'impossible length', param: 'abcde' },
    { name: 'too large', param: 'A'.repeat(4000), maxBytes: 100 },
  ])('$name → DecodeError', ({ param, maxBytes }) => {
    expect(() => decodeGetMessageParam(param, { maxBytes })).toThrow(
      expect.objectContaining({ code: ErrorCodes.decode }),
    );
  });

  it('decodes the real scepclient request from its base64', () => {
    const der = fixture('scepclient-pkcsreq.der');
    expect(decodeGetMessageParam(der.toString('base64url'))).toEqual(der);
  });
});

describe('encodeCaCertResponse', () => {
  it('returns one certificate as DER', () => {
    const cert = fixture('ra.crt.der');
    expect(encodeCaCertResponse([cert])).toEqual({ body: cert, contentType: 'application/x-x509-ca-cert' });
  });
  it('returns RA + CA as a degenerate PKCS#7, RA first', () => {
    const certs = [fixture('ra.crt.der'), fixture('scepserver-ca.crt.der')];
    const { body, contentType } = encodeCaCertResponse(certs);
    expect(contentType).toBe('application/x-x509-ca-ra-cert');
    expect(decodeSignedData(body, { maxBytes: 65536 }).certificates).toEqual(certs);
  });
});

describe('capabilities', () => {
  it('lists RFC 8894 §3.5.2 keywords, one per line, as scepserver does', () => {
    const lines = capabilities().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining(['POSTPKIOperation', 'SCEPStandard', 'AES', 'DES3', 'SHA-256', 'Renewal']),
    );
    // strongSwan pki --scep 5.9.8 refuses AES unless SHA-384 is listed too
    expect(lines).toEqual(expect.arrayContaining(['AES', 'SHA-384']));
    // same keyword spelling as micromdm scepserver's GetCACaps
    for (const keyword of fixture('scepserver-caps.txt').toString().split('\n'))
      expect(lines).toContain(keyword);
  });
});
