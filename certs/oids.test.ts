import { describe, expect, it } from 'vitest';
import { dnAttributeOid, ekuName, ekuOid, keyUsageNamesFromBits } from './oids.js';

describe('oids', () => {
  it.each([
    ['clientAuth', '1.3.6.1.5.5.7.3.2'],
    ['serverAuth', '1.3.6.1.5.5.7.3.1'],
    ['emailProtection', '1.3.6.1.5.5.7.3.4'],
    ['codeSigning', '1.3.6.1.5.5.7.3.3'],
    ['ocspSigning', '1.3.6.1.5.5.7.3.9'],
    ['timeStamping', '1.3.6.1.5.5.7.3.8'],
    ['msSmartcardLogin', '1.3.6.1.4.1.311.20.2.2'],
  ])('EKU %s ↔ %s', (name, oid) => {
    expect(ekuOid(name)).toBe(oid);
    expect(ekuName(oid)).toBe(name);
  });

  it('passes unknown dotted OIDs through and rejects junk', () => {
    expect(ekuOid('1.2.3.4')).toBe('1.2.3.4');
    expect(ekuName('1.2.3.4')).toBe('1.2.3.4');
    expect(ekuOid('toString')).toBeUndefined();
    expect(ekuOid('1.02')).toBeUndefined();
  });

  it.each([
    [[0x80], ['digitalSignature']],
    [[0xa0], ['digitalSignature', 'keyEncipherment']],
    [[0x06], ['keyCertSign', 'cRLSign']],
    [[0x00, 0x80], ['decipherOnly']],
  ])('key usage bits %j → %j', (bytes, names) => {
    expect(keyUsageNamesFromBits(Uint8Array.from(bytes))).toEqual(names);
  });

  it.each([
    ['cn', '2.5.4.3'],
    ['E', '1.2.840.113549.1.9.1'],
    ['OID.2.5.4.3', '2.5.4.3'],
    ['dc', '0.9.2342.19200300.100.1.25'],
    ['bogus', undefined],
  ])('DN type %s → %s', (type, oid) => {
    expect(dnAttributeOid(type)).toBe(oid);
  });
});
