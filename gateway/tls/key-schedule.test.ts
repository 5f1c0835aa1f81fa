import { describe, expect, it } from 'vitest';
import { cipherSuite } from './cipher-suites.js';
import {
  hkdfExpandLabel,
  tls12Prf,
  tls12TrafficKeys,
  tls13NextTrafficSecret,
  tls13TrafficKeys,
} from './key-schedule.js';

const range = (from: number, to: number) =>
  Buffer.from(Array.from({ length: to - from }, (_, i) => from + i));

/*
 * Expected values come from OpenSSL's own KDFs, e.g.
 *   openssl kdf -keylen 72 -kdfopt digest:SHA256 -kdfopt hexsecret:<00..2f>
 *     -kdfopt hexseed:<"key expansion" ‖ 64..a3> TLS1-PRF
 *   openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt mode:EXPAND_ONLY -kdfopt hexkey:<c8..e7>
 *     -kdfopt prefix:"tls13 " -kdfopt label:key -kdfopt hexdata:"" TLS13-KDF
 */
const master = range(0, 48);
const serverRandom = range(100, 132);
const clientRandom = range(132, 164);
const prfSha256 =
  '28685edb204ecc92242de5440cbbaab263b26917badda780ffac162c8d5a190db504e2223d7549b8deb0af27d736ac5666527337fcb51c0d659d1398611083cae380cb76348f8fb5';
const prfSha384 =
  '1ef6cb01527c4d5a83d5dc42afa62a9c27b940128ab240da3008c18b191d6cb911854353158b4b09047f65222a9e79e2a9484d3fc2388fcec5cd7a5cf1323e93599425a430ec6306b0d1eecd182873c98062cd0234258245fb5e21a3a99809f7a863f4f67fd12016';

describe('TLS 1.2 key schedule (RFC 5246 §5, §6.3)', () => {
  it.each([
    ['sha256', 72, prfSha256],
    ['sha384', 104, prfSha384],
    ['sha256', 5, prfSha256.slice(0, 10)],
  ])('PRF with %s matches OpenSSL TLS1-PRF (%d bytes)', (hash, length, expected) => {
    const seed = Buffer.concat([serverRandom, clientRandom]);
    expect(tls12Prf(hash, master, 'key expansion', seed, length).toString('hex')).toBe(expected);
  });

  it('reads client key, server key, client IV, server IV from the key block', () => {
    const gcm = tls12TrafficKeys(cipherSuite(0xc02b, 'TLSv1.2')!, master, clientRandom, serverRandom);
    const block = Buffer.from(prfSha256, 'hex');
    expect(gcm.client.key.equals(block.subarray(0, 16))).toBe(true);
    expect(gcm.server.key.equals(block.subarray(16, 32))).toBe(true);
    expect(gcm.client.iv.equals(block.subarray(32, 36))).toBe(true);
    expect(gcm.server.iv.equals(block.subarray(36, 40))).toBe(true);
    const gcm256 = tls12TrafficKeys(cipherSuite(0xc030, 'TLSv1.2')!, master, clientRandom, serverRandom);
    const block384 = Buffer.from(prfSha384, 'hex');
    expect(gcm256.server.key.equals(block384.subarray(32, 64))).toBe(true);
    expect(gcm256.server.iv.equals(block384.subarray(68, 72))).toBe(true);
    const chacha = tls12TrafficKeys(cipherSuite(0xcca9, 'TLSv1.2')!, master, clientRandom, serverRandom);
    expect(chacha.client.key.equals(block.subarray(0, 32))).toBe(true);
    expect(chacha.server.iv.length).toBe(12);
    const long = tls12Prf('sha256', master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 88);
    expect(chacha.server.iv.equals(long.subarray(76, 88))).toBe(true);
  });
});

describe('TLS 1.3 key schedule (RFC 8446 §7.1-7.3)', () => {
  const secret256 = range(200, 232);
  const secret384 = range(10, 58);

  it('HKDF-Expand-Label matches OpenSSL TLS13-KDF', () => {
    expect(hkdfExpandLabel('sha256', secret256, 'key', Buffer.alloc(0), 16).toString('hex')).toBe(
      '77281f7d4463f957ee0227516fea73f1',
    );
    expect(hkdfExpandLabel('sha256', secret256, 'iv', Buffer.alloc(0), 12).toString('hex')).toBe(
      '63958fe40f7c5fd0529de9c9',
    );
    expect(hkdfExpandLabel('sha384', secret384, 'key', Buffer.alloc(0), 32).toString('hex')).toBe(
      '62944843840d5eb4e902a30d766a43776c2b6828bea7477f869d9c0ead00f889',
    );
  });

  it('derives traffic keys and the next secret after a KeyUpdate', () => {
    const aes128 = tls13TrafficKeys(cipherSuite(0x1301, 'TLSv1.3')!, secret256);
    expect(aes128.key.toString('hex')).toBe('77281f7d4463f957ee0227516fea73f1');
    expect(aes128.iv.toString('hex')).toBe('63958fe40f7c5fd0529de9c9');
    expect(tls13NextTrafficSecret(cipherSuite(0x1301, 'TLSv1.3')!, secret256).toString('hex')).toBe(
      'a326dd6315effa19ae184e33b0d25b32bf95bc4c231e475a8c64dbc066de0ef5',
    );
    expect(tls13NextTrafficSecret(cipherSuite(0x1302, 'TLSv1.3')!, secret384).toString('hex')).toBe(
      '11105e3b04b71dc5ca88c71519f728b1b4158419e3c296dd6ea7f6ec048fc82ca80d2784893d8c153bcf89f391334238',
    );
  });

  it('derives the RFC 8448 §3 server handshake key and IV', () => {
    // Simple 1-RTT handshake: server_handshake_traffic_secret → write key and IV.
    const secret = Buffer.from('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38', 'hex');
    const keys = tls13TrafficKeys(cipherSuite(0x1301, 'TLSv1.3')!, secret);
    expect(keys.key.toString('hex')).toBe('3fce516009c21727d0f2e4e86ee403bc');
    expect(keys.iv.toString('hex')).toBe('5d313eb2671276ee13000b30');
  });

  it.each([
    [0x1301, secret256],
    [0x1302, secret384],
    [0x1303, secret256],
  ])('traffic keys of suite %s equal the general HKDF-Expand-Label, repeated calls alike', (id, secret) => {
    const suite = cipherSuite(id, 'TLSv1.3')!;
    const none = Buffer.alloc(0);
    for (let round = 0; round < 2; round++) {
      const keys = tls13TrafficKeys(suite, secret);
      expect(keys.key.equals(hkdfExpandLabel(suite.hash, secret, 'key', none, suite.keyLength))).toBe(true);
      expect(keys.iv.equals(hkdfExpandLabel(suite.hash, secret, 'iv', none, 12))).toBe(true);
      const next = tls13NextTrafficSecret(suite, secret);
      expect(next.equals(hkdfExpandLabel(suite.hash, secret, 'traffic upd', none, secret.length))).toBe(true);
    }
  });
});
