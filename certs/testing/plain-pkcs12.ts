import { createHmac, type KeyObject, pbkdf2Sync, randomBytes } from 'node:crypto';
import {
  algorithmIdentifier,
  contextConstructed,
  derNull,
  objectIdentifier,
  octetString,
  sequence,
  setOf,
  tlv,
} from '../cms/der-writer.js';
import { Pkcs12Oid } from '../pkcs12/oids.js';
import { passwordBytes } from '../pkcs12/password.js';
import { KdfPurpose, Pkcs12Hashes, pkcs12Kdf } from '../pkcs12/pkcs12-kdf.js';

/** What buildPlainPkcs12 puts in: unencrypted keyBags (RFC 7292 §4.2.1) and certBags. */
export interface PlainPkcs12Content {
  keys: Array<{ privateKey: KeyObject; localKeyId?: Buffer }>;
  certificates: Buffer[];
}

const integer = (n: number): Buffer => {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
};

/**
 * Tests only. A PKCS#12 that `openssl pkcs12 -export` cannot write: several keys, in plain keyBags, with a
 * SHA-256 MAC, a PBMAC1 MAC (RFC 9579; OpenSSL 3.0 cannot write it) or none.
 */
export function buildPlainPkcs12(
  content: PlainPkcs12Content,
  password: string,
  mac: 'sha256' | 'pbmac1' | 'none',
): Buffer {
  const keyBags = content.keys.map(({ privateKey, localKeyId }) =>
    sequence(
      objectIdentifier(Pkcs12Oid.keyBag),
      contextConstructed(0, privateKey.export({ type: 'pkcs8', format: 'der' })),
      ...(localKeyId
        ? [setOf([sequence(objectIdentifier(Pkcs12Oid.localKeyId), setOf([octetString(localKeyId)]))])]
        : []),
    ),
  );
  const certBags = content.certificates.map((der) =>
    sequence(
      objectIdentifier(Pkcs12Oid.certBag),
      contextConstructed(
        0,
        sequence(objectIdentifier(Pkcs12Oid.x509Certificate), contextConstructed(0, octetString(der))),
      ),
    ),
  );
  const data = (der: Buffer) =>
    sequence(objectIdentifier(Pkcs12Oid.data), contextConstructed(0, octetString(der)));
  const authSafe = sequence(data(sequence(...certBags)), data(sequence(...keyBags)));
  const salt = randomBytes(8);
  const macData = (): Buffer => {
    if (mac === 'sha256') {
      const key = pkcs12Kdf(Pkcs12Hashes.sha256, passwordBytes(password).bmp, salt, 2048, KdfPurpose.mac, 32);
      const digest = createHmac('sha256', key).update(authSafe).digest();
      return sequence(
        sequence(algorithmIdentifier(Pkcs12Oid.sha256, derNull), octetString(digest)),
        octetString(salt),
        integer(2048),
      );
    }
    const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, 2048, 32, 'sha256');
    const digest = createHmac('sha256', key).update(authSafe).digest();
    const hmacSha256 = algorithmIdentifier(Pkcs12Oid.hmacWithSha256, derNull);
    const pbkdf2 = algorithmIdentifier(
      Pkcs12Oid.pbkdf2,
      sequence(octetString(salt), integer(2048), integer(32), hmacSha256),
    );
    const pbmac1 = algorithmIdentifier(Pkcs12Oid.pbmac1, sequence(pbkdf2, hmacSha256));
    // RFC 9579 §3: macSalt and iterations are ignored with PBMAC1
    return sequence(sequence(pbmac1, octetString(digest)), octetString(Buffer.from('NOT USED')), integer(1));
  };
  return sequence(integer(3), data(authSafe), ...(mac === 'none' ? [] : [macData()]));
}
