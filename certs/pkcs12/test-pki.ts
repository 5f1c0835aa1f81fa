import { execFileSync } from 'node:child_process';
import { createHmac, type KeyObject, pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { Pkcs12Oid } from './oids.js';
import { passwordBytes } from './password.js';
import { KdfPurpose, Pkcs12Hashes, pkcs12Kdf } from './pkcs12-kdf.js';

/**
 * Test helper (tests only): a throwaway PKI made with the openssl CLI — an RSA root CA, an EC
 * issuing CA under it, and an RSA SCEP RA (keyEncipherment) under the root — and PKCS#12 files
 * exported from it with whatever `openssl pkcs12 -export` options a test wants.
 */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'outpost-p12-'));

  constructor() {
    writeFileSync(
      this.path('ext.cnf'),
      [
        '[ca]',
        'basicConstraints=critical,CA:TRUE',
        'keyUsage=critical,keyCertSign,cRLSign',
        'subjectKeyIdentifier=hash',
        '[ra]',
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        '',
      ].join('\n'),
    );
    this.openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'root.key',
      '-out',
      'root.pem',
      '-subj',
      '/O=Outpost Test/CN=Test Root CA',
      '-days',
      '3650',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    this.issue(
      'inter',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      '/CN=Test Issuing CA',
      'ca',
    );
    this.issue('ra', ['-newkey', 'rsa:2048'], '/CN=Test Root CA SCEP RA', 'ra');
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  read(name: string): Buffer {
    return readFileSync(this.path(name));
  }

  openssl(...args: string[]): string {
    return execFileSync('openssl', args, {
      cwd: this.dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** `openssl pkcs12 -export -inkey <key>.key -in <cert>.pem [extra]`; returns the file's bytes. */
  export(name: string, password: string, extra: string[] = []): Buffer {
    const out = `${name}-${Math.random().toString(36).slice(2)}.p12`;
    this.openssl(
      'pkcs12',
      '-export',
      '-inkey',
      `${name}.key`,
      '-in',
      `${name}.pem`,
      '-passout',
      `pass:${password}`,
      '-out',
      out,
      ...extra,
    );
    return this.read(out);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private issue(name: string, keyArgs: string[], subject: string, extensions: string): void {
    this.openssl(
      'req',
      '-new',
      ...keyArgs,
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    );
    this.openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'root.pem',
      '-CAkey',
      'root.key',
      '-CAcreateserial',
      '-days',
      '1000',
      '-extfile',
      'ext.cnf',
      '-extensions',
      extensions,
      '-out',
      `${name}.pem`,
    );
  }
}

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
 * A PKCS#12 that `openssl pkcs12 -export` cannot write: several keys, in plain keyBags, with a
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
