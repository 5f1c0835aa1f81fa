import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Test helper (tests only): a throwaway cloud PKI made with the openssl CLI — an EC CA, a server
 * certificate for 127.0.0.1, and an agent certificate for an appliance id — laid out as an
 * enrolled data directory (DATA/link/…), so link code runs against real TLS.
 */
export class LinkTestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'outpost-link-pki-'));
  readonly dataDir = join(this.dir, 'data');

  constructor(readonly applianceId = 'appl-test-1') {
    mkdirSync(join(this.dataDir, 'link'), { recursive: true, mode: 0o700 });
    writeFileSync(
      this.path('ext.cnf'),
      '[server]\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n[client]\nextendedKeyUsage=clientAuth\n',
    );
    this.openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-subj',
      '/CN=Link Test CA',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    this.issue('server', '/CN=127.0.0.1', 'server');
    this.issue('agent', `/CN=${applianceId}`, 'client');
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  read(name: string): string {
    return readFileSync(this.path(name), 'utf8');
  }

  openssl(...args: string[]): string {
    return execFileSync('openssl', args, {
      cwd: this.dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Signs a PEM CSR with the CA as an agent (client) certificate; returns the certificate PEM. */
  signAgentCsr(
    csrPem: string,
    name = `csr-${Math.random().toString(36).slice(2)}`,
    subject?: string,
  ): string {
    writeFileSync(this.path(`${name}.csr`), csrPem);
    this.openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '10',
      '-extfile',
      'ext.cnf',
      '-extensions',
      'client',
      ...(subject ? ['-subj', subject] : ['-subj', `/CN=${this.applianceId}`]),
    );
    return this.read(`${name}.pem`);
  }

  /** Writes DATA/link as `outpost enroll` leaves it (link.json, agent key and certificate, cloud CA). */
  enroll(cloudUrl: string): void {
    const link = join(this.dataDir, 'link');
    writeFileSync(join(link, 'agent.key'), this.read('agent.key'), { mode: 0o600 });
    writeFileSync(join(link, 'agent.pem'), this.read('agent.pem'));
    writeFileSync(join(link, 'cloud-ca.pem'), this.read('ca.pem'));
    writeFileSync(
      join(link, 'link.json'),
      JSON.stringify({
        applianceId: this.applianceId,
        cloudUrl,
        roles: ['connector'],
        enrolledAt: new Date().toISOString(),
      }),
    );
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private issue(name: string, subject: string, extensions: string): void {
    this.openssl(
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
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
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '10',
      '-extfile',
      'ext.cnf',
      '-extensions',
      extensions,
    );
  }
}
