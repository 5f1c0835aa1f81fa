import { createHash, X509Certificate } from 'node:crypto';
import * as fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { keysMatch, loadPrivateKey } from '../keys.js';
import { firstDer, pemBlocks } from '../pem.js';
import { opensslAll } from '../testing/openssl.js';
import { caHierarchyPki } from '../testing/pki-presets.js';
import type { TestPki } from '../testing/test-pki.js';
import { readPkcs12 } from './read-pkcs12.js';
import { type Pkcs12Entry, type Pkcs12Protection, writePkcs12 } from './write-pkcs12.js';

let pki: TestPki;
beforeAll(() => {
  pki = caHierarchyPki();
});
afterAll(() => pki.cleanup());

const certDer = (name: string) => firstDer(pki.read(`${name}.pem`).toString(), 'CERTIFICATE');
const keyOf = (name: string) => loadPrivateKey(pki.read(`${name}.key`)).privateKey;

/** The EC issuing CA with its root as chain: key type and chain both differ from the RSA root. */
const entries: Array<[string, () => Pkcs12Entry]> = [
  ['RSA, no chain', () => ({ privateKey: keyOf('ra'), certificate: certDer('ra') })],
  [
    'EC with chain and friendlyName',
    () => ({
      privateKey: keyOf('inter'),
      certificate: certDer('inter'),
      chain: [certDer('root')],
      friendlyName: 'Issuing CA',
    }),
  ],
];

/** What `openssl pkcs12 -info` prints for each protection (OpenSSL 3.0 wording). */
const expectedInfo: Record<Pkcs12Protection, RegExp[]> = {
  modern: [
    /MAC: sha256, Iteration 2048/,
    /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/,
    /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/,
  ],
  legacy: [
    /MAC: sha1, Iteration 2048/,
    /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048/,
    /PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048/,
  ],
};

/** `openssl pkcs12` with the flags that protection needs (-legacy loads the legacy provider). */
function opensslPkcs12(protection: Pkcs12Protection, der: Buffer, password: string, args: string[]) {
  return opensslAll(
    [
      'pkcs12',
      '-in',
      'in.p12',
      '-passin',
      'file:pass.txt',
      ...(protection === 'legacy' ? ['-legacy'] : []),
      ...args,
    ],
    { 'in.p12': der, 'pass.txt': `${password}\n` },
  );
}

describe.each(['modern', 'legacy'] as const)('writePkcs12 (%s)', (protection) => {
  it.each(entries)('round-trips %s through readPkcs12', (_name, make) => {
    const entry = make();
    const der = writePkcs12(entry, 'correct horse', { protection });
    const { certificates, keys } = readPkcs12(der, 'correct horse');
    expect(certificates).toEqual([Buffer.from(entry.certificate), ...(entry.chain ?? []).map(Buffer.from)]);
    expect(keys).toHaveLength(1);
    const [key] = keys;
    expect(keysMatch(key!.privateKey, new X509Certificate(entry.certificate).publicKey)).toBe(true);
    expect(key!.localKeyId).toEqual(createHash('sha1').update(entry.certificate).digest());
    expect(key!.friendlyName).toBe(entry.friendlyName);
  });

  it.each(entries)('is opened by openssl pkcs12 with the expected algorithms (%s)', (_name, make) => {
    const entry = make();
    const der = writePkcs12(entry, 'correct horse', { protection });
    const info = opensslPkcs12(protection, der, 'correct horse', ['-info', '-noout']);
    expect(info.status, info.output).toBe(0);
    for (const line of expectedInfo[protection]) expect(info.output).toMatch(line);
    const dump = opensslPkcs12(protection, der, 'correct horse', ['-nodes']);
    expect(dump.status, dump.output).toBe(0);
    const certs = pemBlocks(dump.output).filter((b) => b.label === 'CERTIFICATE');
    expect(certs.map((b) => b.der)).toEqual([
      Buffer.from(entry.certificate),
      ...(entry.chain ?? []).map(Buffer.from),
    ]);
    const keyPem = pemBlocks(dump.output).find((b) => b.label === 'PRIVATE KEY');
    expect(keyPem).toBeDefined();
    const exported = entry.privateKey.export({ type: 'pkcs8', format: 'der' });
    expect(keyPem!.der).toEqual(exported);
    if (entry.friendlyName) expect(dump.output).toContain(`friendlyName: ${entry.friendlyName}`);
    expect(dump.output).toContain(
      `localKeyID: ${createHash('sha1').update(entry.certificate).digest('hex').toUpperCase().match(/../g)!.join(' ')}`,
    );
  });

  it('refuses the wrong password in openssl too', () => {
    const der = writePkcs12(entries[0]![1](), 'right', { protection });
    expect(opensslPkcs12(protection, der, 'wrong', ['-info', '-noout']).output).toMatch(
      /mac verify (failure|error)/i,
    );
    expect(() => readPkcs12(der, 'wrong')).toThrow(OutpostError);
  });

  it('encodes non-ASCII passwords and friendly names as OpenSSL does', () => {
    const password = 'pässwörd € 🔑';
    const der = writePkcs12({ ...entries[1]![1](), friendlyName: 'Zoë’s key' }, password, { protection });
    expect(readPkcs12(der, password).keys[0]!.friendlyName).toBe('Zoë’s key');
    expect(opensslPkcs12(protection, der, password, ['-info', '-noout']).status).toBe(0);
  });

  it('takes a higher iteration count', () => {
    const der = writePkcs12(entries[0]![1](), 'pw', { protection, iterations: 10_000 });
    const info = opensslPkcs12(protection, der, 'pw', ['-info', '-noout']);
    expect(info.output).toMatch(/Iteration 10000/);
    expect(readPkcs12(der, 'pw').keys).toHaveLength(1);
  });

  it('round-trips any password and friendly name (property)', () => {
    const entry = entries[1]![1]();
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ minLength: 1, maxLength: 40 }), (pw, name) => {
        const { keys, certificates } = readPkcs12(
          writePkcs12({ ...entry, friendlyName: name }, pw, { protection, iterations: 16 }),
          pw,
        );
        expect(certificates).toHaveLength(2);
        expect(keys[0]!.friendlyName).toBe(name);
      }),
      { numRuns: 40 },
    );
  });
});

describe('writePkcs12 refuses bad input', () => {
  function codeOf(run: () => unknown): string | undefined {
    try {
      run();
    } catch (e) {
      return (e as OutpostError).code;
    }
    return undefined;
  }

  it.each([
    [
      'a key that is not the certificate’s',
      () => ({ privateKey: keyOf('root'), certificate: certDer('ra') }),
      ErrorCodes.badRequest,
    ],
    [
      'a certificate that does not parse',
      () => ({ privateKey: keyOf('ra'), certificate: Buffer.from([0x30, 0]) }),
      ErrorCodes.badRequest,
    ],
    [
      'a chain of 17',
      () => ({ privateKey: keyOf('ra'), certificate: certDer('ra'), chain: Array(17).fill(certDer('root')) }),
      ErrorCodes.limit,
    ],
  ])('%s', (_name, make, code) => {
    expect(codeOf(() => writePkcs12(make(), 'pw', { protection: 'modern' }))).toBe(code);
  });

  it.each([0, 4_000_001])('iterations %d', (iterations) => {
    const entry = entries[0]![1]();
    expect(codeOf(() => writePkcs12(entry, 'pw', { protection: 'modern', iterations }))).toMatch(
      /DECODE|LIMIT/,
    );
  });
});
