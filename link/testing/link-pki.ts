import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { caExtensions, TestPki } from '../../certs/testing/test-pki.js';

const serverExtensions = ['subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth'];
const clientExtensions = ['extendedKeyUsage=clientAuth'];

/**
 * Test helper (tests only): a throwaway cloud PKI from the test PKI kit — an EC CA, a server
 * certificate for 127.0.0.1 (`server`), and an agent certificate for an appliance id (`agent`) —
 * laid out as an enrolled data directory (DATA/link/…), so link code runs against real TLS.
 */
export class LinkTestPki extends TestPki {
  readonly dataDir = join(this.dir, 'data');

  constructor(readonly applianceId = 'appl-test-1') {
    super({ prefix: 'outpost-link-pki-' });
    mkdirSync(join(this.dataDir, 'link'), { recursive: true, mode: 0o700 });
    this.selfSigned('ca', { subject: '/CN=Link Test CA', days: 30, extensions: caExtensions });
    this.issue('server', { issuer: 'ca', subject: '/CN=127.0.0.1', days: 10, extensions: serverExtensions });
    this.issue('agent', {
      issuer: 'ca',
      subject: `/CN=${applianceId}`,
      days: 10,
      extensions: clientExtensions,
    });
  }

  /** Signs a PEM CSR with the CA as an agent (client) certificate; returns the certificate PEM. */
  signAgentCsr(
    csrPem: string,
    name = `csr-${Math.random().toString(36).slice(2)}`,
    subject = `/CN=${this.applianceId}`,
  ): string {
    writeFileSync(this.path(`${name}.csr`), csrPem);
    return this.sign(name, { issuer: 'ca', days: 10, extensions: clientExtensions, subject });
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
}
