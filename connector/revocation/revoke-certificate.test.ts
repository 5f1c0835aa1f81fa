import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCsr, parseCsr } from '../../certs/csr.js';
import { generateKeyPair } from '../../certs/keys.js';
import { toPem } from '../../certs/pem.js';
import { openssl } from '../../certs/testing/openssl.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { CaBackend } from '../ca/ca-backend.js';
import { TestConnector } from '../pkcs/testing/test-connector.js';
import type { InventoryRecord } from '../ports.js';
import { revokeCertificate } from './revoke-certificate.js';

let t: TestConnector;
beforeAll(async () => {
  t = await TestConnector.open();
});
afterAll(() => t.cleanup());

async function issue(authority = t.authority): Promise<InventoryRecord> {
  const pair = await generateKeyPair('ec-p256');
  const csr = parseCsr(buildCsr('CN=device-to-revoke', pair));
  return authority.issueDirect({ csr, profile: 'user', requester: 'test' });
}

async function codeOf(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (e) {
    expect(e).toBeInstanceOf(OutpostError);
    return (e as OutpostError).code;
  }
  return undefined;
}

const crlText = () =>
  openssl(['crl', '-inform', 'DER', '-in', 'crl.der', '-noout', '-text'], { 'crl.der': t.ca.currentCrl()! });

describe('revokeCertificate', () => {
  it('revokes by issuer and serial, the CRL lists it; a second time is a conflict', async () => {
    const record = await issue();
    const deps = { revocation: t.revocation, inventory: t.inventory };
    const colons = record.serialHex.toUpperCase().match(/../g)!.join(':');
    const revoked = await revokeCertificate(deps, {
      serialHex: colons,
      // same name, other case and spacing (RFC 4514 text: most specific first)
      issuer: 'cn=outpost  root ca, o=OUTPOST',
      reason: 'keyCompromise',
    });
    expect(revoked).toMatchObject({
      serialHex: record.serialHex,
      status: 'revoked',
      revocationReason: 'keyCompromise',
    });
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    const text = crlText();
    expect(text.toLowerCase().replace(/:/g, '')).toContain(record.serialHex);
    expect(text).toContain('Key Compromise');
    openssl(['crl', '-inform', 'DER', '-in', 'crl.der', '-CAfile', 'ca.pem', '-noout'], {
      'crl.der': t.ca.currentCrl()!,
      'ca.pem': toPem('CERTIFICATE', t.ca.caCertificateDer),
    });
    expect(await codeOf(() => revokeCertificate(deps, { serialHex: record.serialHex }))).toBe(
      ErrorCodes.conflict,
    );
  });

  it('unknown serial, or another issuer’s, is notFound', async () => {
    const deps = { revocation: t.revocation, inventory: t.inventory };
    expect(await codeOf(() => revokeCertificate(deps, { serialHex: '0badc0de' }))).toBe(ErrorCodes.notFound);
    const record = await issue();
    expect(
      await codeOf(() => revokeCertificate(deps, { serialHex: record.serialHex, issuer: 'CN=Someone Else' })),
    ).toBe(ErrorCodes.notFound);
    expect((await t.inventory.bySerial(record.serialHex))?.status).toBe('valid');
    expect(await codeOf(() => revokeCertificate(deps, { serialHex: 'xyz' }))).toBe(ErrorCodes.badRequest);
  });

  it('an unreachable CA is unavailable and leaves the inventory unchanged', async () => {
    const down: CaBackend = {
      type: 'down',
      issue: (req) => t.ca.issue(req),
      revoke: async () => {
        throw new OutpostError(ErrorCodes.unavailable, 'CA unreachable');
      },
      caChain: () => t.ca.caChain(),
      currentCrl: () => undefined,
    };
    const authority = t.authorityWith(down);
    const record = await issue(authority);
    expect(
      await codeOf(() =>
        revokeCertificate(
          { revocation: t.revocationWith(down), inventory: t.inventory },
          { serialHex: record.serialHex },
        ),
      ),
    ).toBe(ErrorCodes.unavailable);
    expect((await t.inventory.bySerial(record.serialHex))?.status).toBe('valid');
  });
});
