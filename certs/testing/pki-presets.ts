import { caExtensions, TestPki } from './test-pki.js';

/**
 * Tests only. The PKCS#12 tests' hierarchy: `root` (RSA, self-signed), `inter` (an EC P-256
 * issuing CA under it) and `ra` (an RSA SCEP RA under the root: digitalSignature and
 * keyEncipherment). Export any of them with `pkcs12()`; `cleanup()` when done.
 */
export function caHierarchyPki(): TestPki {
  const pki = new TestPki({ prefix: 'outpost-p12-' });
  pki.selfSigned('root', {
    subject: '/O=Outpost Test/CN=Test Root CA',
    key: 'rsa:2048',
    days: 3650,
    extensions: caExtensions,
  });
  pki.issue('inter', {
    issuer: 'root',
    subject: '/CN=Test Issuing CA',
    days: 1000,
    extensions: [...caExtensions, 'subjectKeyIdentifier=hash'],
  });
  pki.issue('ra', {
    issuer: 'root',
    subject: '/CN=Test Root CA SCEP RA',
    key: 'rsa:2048',
    days: 1000,
    extensions: ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment'],
  });
  return pki;
}

/**
 * Tests only: an S/MIME identity for alice@corp.test (RSA key, EKU as asked, validity in days)
 * under a throwaway CA, exported with `openssl pkcs12 -export` plus `exportArgs`.
 */
export function opensslPfx(options: {
  password: string;
  eku?: string;
  days?: number;
  exportArgs?: string[];
}): { pfx: Buffer; certPem: string; keyPem: string; caPem: string } {
  const pki = new TestPki({ prefix: 'outpost-smime-' });
  try {
    pki.selfSigned('ca', { subject: '/CN=S-MIME Test CA', key: 'rsa:2048', days: 30 });
    pki.issue('leaf', {
      issuer: 'ca',
      subject: '/CN=Alice/emailAddress=alice@corp.test',
      key: 'rsa:2048',
      days: options.days ?? 365,
      extensions: [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        ...(options.eku ? [`extendedKeyUsage=${options.eku}`] : []),
        'subjectAltName=email:alice@corp.test',
      ],
    });
    const pfx = pki.pkcs12('leaf', options.password, [
      '-certfile',
      'ca.pem',
      '-name',
      'Alice S/MIME',
      ...(options.exportArgs ?? []),
    ]);
    return { pfx, certPem: pki.read('leaf.pem'), keyPem: pki.read('leaf.key'), caPem: pki.read('ca.pem') };
  } finally {
    pki.cleanup();
  }
}
