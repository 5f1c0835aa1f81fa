import { describe, expect, it } from 'vitest';
import { DecodeError } from '../core/errors.js';
import { dnEquals, escapeValue, nameFromDer, normalizeDn, parseDn } from './name.js';

describe('name', () => {
  it.each([
    ['CN=Outpost Root CA,O=Outpost', 'CN=Outpost Root CA,O=Outpost'],
    ['cn = device-1 , ou=Devices,O=Example,C=US', 'CN=device-1,OU=Devices,O=Example,C=US'],
    ['CN=a\\,b\\+c,O=x', 'CN=a\\,b\\+c,O=x'],
    ['CN=\\#hash\\ ', 'CN=\\#hash\\ '],
    ['CN=J\\C3\\BCrgen', 'CN=Jürgen'],
    ['CN=a+UID=b,DC=corp,DC=test', 'CN=a+UID=b,DC=corp,DC=test'],
    ['CN=x;O=y', 'CN=x,O=y'],
    ['emailAddress=a@b.c,CN=x', 'emailAddress=a@b.c,CN=x'],
    ['2.5.4.3=oid', 'CN=oid'],
    ['CN=#0c03616263', 'CN=abc'],
    ['', ''],
  ])('parses %j and formats %j', (text, expected) => {
    const dn = parseDn(text);
    expect(dn.text).toBe(expected);
    expect(nameFromDer(dn.der)).toEqual(dn);
  });

  it('encodes most significant RDN first, like openssl', () => {
    const dn = parseDn('CN=device-1,O=Example,C=US');
    expect(dn.rdns.map((r) => r[0]!.value)).toEqual(['US', 'Example', 'device-1']);
  });

  it('escapes per RFC 4514 §2.4', () => {
    expect(escapeValue(' a"b<c>d;e\\')).toBe('\\ a\\"b\\<c\\>d\\;e\\\\');
    expect(escapeValue('#x#')).toBe('\\#x#');
    expect(escapeValue('a\0b ')).toBe('a\\00b\\ ');
  });

  it.each([
    ['CN=Device  One,O=Example', 'cn=device one, o=EXAMPLE', true],
    ['CN=a+UID=b', 'UID=b+CN=a', true],
    ['CN=a,O=b', 'O=b,CN=a', false],
    ['CN=a', 'CN=b', false],
    ['E=x@y', 'emailAddress=X@Y', true],
  ])('dnEquals(%j, %j) = %s', (a, b, equal) => {
    expect(dnEquals(a, b)).toBe(equal);
    expect(dnEquals(parseDn(a), b)).toBe(equal);
  });

  it('normalizes a DistinguishedName and its text the same way', () => {
    const dn = parseDn('CN=x\\,y,O=Big  Corp');
    expect(normalizeDn(dn)).toBe(normalizeDn(dn.text));
  });

  it.each(['CN', 'XX=1', 'CN=a"b', 'CN=x\\', 'CN=#abc', 'CN=\\ff', 'C=Ü'])('rejects %j', (text) => {
    expect(() => parseDn(text)).toThrow(DecodeError);
  });

  it.each([
    [Buffer.from([0x30, 0x03, 0x31, 0x01])],
    [Buffer.from([0x31, 0x00])],
    [Buffer.from([0x30, 0x00, 0x00])],
  ])('nameFromDer rejects malformed %j', (der) => {
    expect(() => nameFromDer(der)).toThrow(DecodeError);
  });
});
