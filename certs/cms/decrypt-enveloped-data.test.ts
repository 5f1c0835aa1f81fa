import { constants, publicEncrypt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../core/errors.js';
import { certificateRef } from './certificate-ref.js';
import { decryptEnvelopedData } from './decrypt-enveloped-data.js';
import { Oid } from './oids.js';
import { unwrapContentKey } from './rsa-key-transport.js';
import { fixture, fixtureKey } from './testing/fixtures.js';

const content = fixture('content.txt');
const recipient = { certDer: fixture('rsa.crt.der'), privateKey: fixtureKey('rsa.key') };
const limits = { maxBytes: 64 * 1024 };

describe('decryptEnvelopedData on openssl cms -encrypt output', () => {
  it.each([
    { file: 'enveloped-aes-256-cbc.der', cipher: 'aes-256-cbc', keyTransport: 'rsa-pkcs1' },
    { file: 'enveloped-aes-192-cbc.der', cipher: 'aes-192-cbc', keyTransport: 'rsa-pkcs1' },
    { file: 'enveloped-aes-128-cbc.der', cipher: 'aes-128-cbc', keyTransport: 'rsa-pkcs1' },
    { file: 'enveloped-des-ede3-cbc.der', cipher: 'des-ede3-cbc', keyTransport: 'rsa-pkcs1' },
    { file: 'enveloped-des-cbc.der', cipher: 'des-cbc', keyTransport: 'rsa-pkcs1' },
    { file: 'enveloped-keyid.der', cipher: 'aes-256-cbc', keyTransport: 'rsa-pkcs1' },
    { file: 'enveloped-oaep-sha256.der', cipher: 'aes-256-cbc', keyTransport: 'rsa-oaep-sha256' },
    { file: 'enveloped-oaep-sha1.der', cipher: 'aes-128-cbc', keyTransport: 'rsa-oaep-sha1' },
    { file: 'enveloped-ber.der', cipher: 'aes-256-cbc', keyTransport: 'rsa-pkcs1' },
    { file: 'enveloped-two-recipients.der', cipher: 'aes-256-cbc', keyTransport: 'rsa-pkcs1' },
  ])('$file', ({ file, cipher, keyTransport }) => {
    const result = decryptEnvelopedData(fixture(file), recipient, limits);
    expect(result).toEqual({ content, contentType: Oid.data, contentCipher: cipher, keyTransport });
  });

  it('tries the only recipient when none matches, and fails with decrypt under the wrong key', () => {
    expect(() => decryptEnvelopedData(fixture('enveloped-to-other.der'), recipient, limits)).toThrow(
      expect.objectContaining({ code: ErrorCodes.decrypt }),
    );
  });

  it('decrypts for the second of two recipients by its own key', () => {
    const other = { certDer: fixture('other.crt.der'), privateKey: fixtureKey('other.key') };
    expect(decryptEnvelopedData(fixture('enveloped-two-recipients.der'), other, limits).content).toEqual(
      content,
    );
  });

  it('throws DecodeError for a SignedData', () => {
    expect(() => decryptEnvelopedData(fixture('signed-rsa-sha256.der'), recipient, limits)).toThrow(
      expect.objectContaining({ code: ErrorCodes.decode }),
    );
  });
});

describe('PKCS#1 v1.5 key unwrap with implicit rejection', () => {
  const publicKey = certificateRef(fixture('rsa.crt.der')).publicKey();
  const privateKey = recipient.privateKey;
  const rsaEncryption = { oid: Oid.rsaEncryption };
  const k = 256;

  /** Encodes EM by hand and applies the raw RSA permutation, so that any padding can be tested. */
  function rawEncrypt(em: Buffer): Buffer {
    return publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, em);
  }
  function em(keyLength: number, edit: (block: Buffer) => void = () => {}): { block: Buffer; key: Buffer } {
    const block = Buffer.alloc(k, 0x5a);
    block[0] = 0;
    block[1] = 2;
    block[k - keyLength - 1] = 0;
    const key = Buffer.alloc(keyLength, 0xc3);
    key.copy(block, k - keyLength);
    edit(block);
    return { block, key };
  }

  it('returns the key for valid padding', () => {
    const { block, key } = em(32);
    expect(unwrapContentKey(rsaEncryption, privateKey, rawEncrypt(block), 32).key).toEqual(key);
  });

  it.each([
    {
      name: 'first byte not 0',
      edit: (b: Buffer) => {
        b[0] = 1;
      },
    },
    {
      name: 'block type 1',
      edit: (b: Buffer) => {
        b[1] = 1;
      },
    },
    {
      name: 'zero inside PS',
      edit: (b: Buffer) => {
        b[5] = 0;
      },
    },
    {
      name: 'no separator',
      edit: (b: Buffer) => {
        b[k - 33] = 7;
      },
    },
    {
      name: 'shorter key (separator earlier)',
      edit: (b: Buffer) => {
        b[k - 20] = 0;
        b[k - 33] = 7;
      },
    },
  ])('returns a deterministic synthetic key for $name', ({ edit }) => {
    const { block, key } = em(32, edit);
    const ciphertext = rawEncrypt(block);
    const first = unwrapContentKey(rsaEncryption, privateKey, ciphertext, 32).key;
    expect(first).toHaveLength(32);
    expect(first).not.toEqual(key);
    expect(unwrapContentKey(rsaEncryption, privateKey, ciphertext, 32).key).toEqual(first);
  });

  it('rejects a ciphertext of the wrong length with decrypt (public information)', () => {
    expect(() => unwrapContentKey(rsaEncryption, privateKey, Buffer.alloc(10), 32)).toThrow(
      expect.objectContaining({ code: ErrorCodes.decrypt }),
    );
  });
});
