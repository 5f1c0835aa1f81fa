import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A key for openssl to make: `rsa:BITS` or an EC named curve. */
export type TestKey = `rsa:${number}` | 'ec:P-256' | 'ec:P-384';

/** Who a certificate names and the key it certifies. */
export interface TestSubject {
  /** openssl's -subj form: '/O=Org/CN=Name'. */
  subject: string;
  /** Default 'ec:P-256'. */
  key?: TestKey;
}

/** How long a certificate lives and what it says, in openssl's config syntax ('extendedKeyUsage=serverAuth'). */
export interface TestValidity {
  /** Default 30. */
  days?: number;
  extensions?: readonly string[];
}

/** What a CA certificate carries: basicConstraints and keyUsage, both critical. */
export const caExtensions = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];

/**
 * The test PKI kit (tests only: the shipped build leaves every `testing/` folder out). Keys,
 * certificates, CSRs and PKCS#12 files made with the openssl CLI, so that the fixtures come from
 * another implementation than the code under test. Each entity is files named after it in `dir`:
 * NAME.key (PKCS#8 PEM), NAME.csr, NAME.pem, NAME.p12; a CA is any entity passed as `issuer`.
 *
 *   const pki = new TestPki();
 *   pki.selfSigned('ca', { subject: '/CN=Test CA', extensions: caExtensions });
 *   pki.issue('server', { issuer: 'ca', subject: '/CN=127.0.0.1', extensions: ['subjectAltName=IP:127.0.0.1'] });
 *   const p12 = pki.pkcs12('server', 'secret', ['-certfile', 'ca.pem']);
 *   pki.cleanup();
 */
export class TestPki {
  readonly dir: string;

  /** A fresh temp directory (`prefix`), or `dir` (made if missing) when the files must sit in a given place. */
  constructor(options: { prefix?: string; dir?: string } = {}) {
    if (options.dir) mkdirSync(options.dir, { recursive: true });
    this.dir = options.dir ?? mkdtempSync(join(tmpdir(), options.prefix ?? 'outpost-pki-'));
  }

  /** `openssl req -x509`: a self-signed certificate (`extensions` as -addext). Returns NAME.pem. */
  selfSigned(name: string, spec: TestSubject & TestValidity): string {
    const addext = (spec.extensions ?? []).flatMap((line) => ['-addext', line]);
    this.newKeyAnd('-x509', name, spec, `${name}.pem`, ['-days', String(spec.days ?? 30), ...addext]);
    return this.read(`${name}.pem`);
  }

  /** `openssl req -new`: a key and a CSR for it. Returns NAME.csr. */
  request(name: string, spec: TestSubject): string {
    this.newKeyAnd('-new', name, spec, `${name}.csr`);
    return this.read(`${name}.csr`);
  }

  /**
   * `openssl x509 -req`: the issuer signs NAME.csr (`extensions` as -extfile; `subject` replaces the
   * CSR's). Returns NAME.pem.
   */
  sign(name: string, spec: TestValidity & { issuer: string; subject?: string }): string {
    const extfile: string[] = [];
    if (spec.extensions) {
      writeFileSync(this.path(`${name}.ext`), `${spec.extensions.join('\n')}\n`);
      extfile.push('-extfile', `${name}.ext`);
    }
    this.openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${spec.issuer}.pem`,
      '-CAkey',
      `${spec.issuer}.key`,
      '-CAcreateserial',
      '-days',
      String(spec.days ?? 30),
      ...extfile,
      ...(spec.subject ? ['-subj', spec.subject] : []),
      '-out',
      `${name}.pem`,
    );
    return this.read(`${name}.pem`);
  }

  /** request() then sign(): a key and a certificate from `issuer`. Returns NAME.pem. */
  issue(name: string, spec: TestSubject & TestValidity & { issuer: string }): string {
    this.request(name, spec);
    return this.sign(name, spec);
  }

  /**
   * `openssl pkcs12 -export` of NAME.key and NAME.pem into NAME.p12, with `extra` options as
   * openssl spells them (`-certfile ca.pem`, `-name`, `-legacy`, `-certpbe …`). Returns its bytes.
   */
  pkcs12(name: string, password: string, extra: readonly string[] = []): Buffer {
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
      `${name}.p12`,
      ...extra,
    );
    return this.bytes(`${name}.p12`);
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  /** A file of the PKI as text (PEM). */
  read(file: string): string {
    return readFileSync(this.path(file), 'utf8');
  }

  bytes(file: string): Buffer {
    return readFileSync(this.path(file));
  }

  /** Runs openssl in `dir`; returns stdout, throws with stderr on failure. */
  openssl(...args: string[]): string {
    return execFileSync('openssl', args, {
      cwd: this.dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** `openssl req` making NAME.key and then `out`: a certificate (-x509) or a CSR (-new). */
  private newKeyAnd(
    what: '-x509' | '-new',
    name: string,
    spec: TestSubject,
    out: string,
    extra: string[] = [],
  ): void {
    const key = spec.key ?? 'ec:P-256';
    const keyArgs = key.startsWith('rsa:')
      ? ['-newkey', key]
      : ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${key.slice('ec:'.length)}`];
    this.openssl(
      'req',
      what,
      ...keyArgs,
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      out,
      '-subj',
      spec.subject,
      ...extra,
    );
  }
}
