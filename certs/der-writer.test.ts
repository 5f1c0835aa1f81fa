import { describe, expect, it } from 'vitest';
import { objectIdentifier, octetString, setOf, smallInteger, tlv } from './der-writer.js';

describe('der-writer', () => {
  it.each([
    { name: 'short length', der: tlv(0x04, Buffer.alloc(3)), hex: '0403000000' },
    { name: 'long length 128', der: octetString(Buffer.alloc(128)).subarray(0, 3), hex: '048180' },
    { name: 'long length 256', der: octetString(Buffer.alloc(256)).subarray(0, 4), hex: '04820100' },
    { name: 'OID sha256', der: objectIdentifier('2.16.840.1.101.3.4.2.1'), hex: '0609608648016503040201' },
    {
      name: 'OID verisign messageType',
      der: objectIdentifier('2.16.840.1.113733.1.9.2'),
      hex: '060a6086480186f8450109 02'.replace(' ', ''),
    },
    { name: 'INTEGER 1', der: smallInteger(1), hex: '020101' },
    {
      name: 'SET OF sorted',
      der: setOf([Buffer.from('0402ffff', 'hex'), Buffer.from('040100', 'hex')]),
      hex: '3107040100' + '0402ffff',
    },
  ])('$name', ({ der, hex }) => {
    expect(der.toString('hex')).toBe(hex);
  });
});
