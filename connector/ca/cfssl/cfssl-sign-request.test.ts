import { beforeAll, describe, expect, it } from 'vitest';
import { buildCsr, parseCsr } from '../../../certs/csr.js';
import { generateKeyPair, type KeyPair } from '../../../certs/keys.js';
import { parseDn } from '../../../certs/name.js';
import { pemBlocks } from '../../../certs/pem.js';
import { ErrorCodes } from '../../../core/errors.js';
import type { IssueRequest } from '../ca-backend.js';
import { cfsslSignRequest } from './cfssl-sign-request.js';

const profile = { name: 'device', validityDays: 30, keyUsage: [], eku: [] };
let keys: KeyPair;
beforeAll(async () => {
  keys = await generateKeyPair('ec-p256');
});

function request(subject: string, extra: Partial<IssueRequest> = {}, sans = {}): IssueRequest {
  return { csr: parseCsr(buildCsr(subject, keys, { sans })), profile, requester: 't', ...extra };
}

const noSans = { dns: [], email: [], uri: [], ip: [], upn: [] };

describe('cfsslSignRequest', () => {
  it('sends the CSR as PEM, the SANs as hosts (always, so cfssl issues exactly these) and the profile', () => {
    const req = request(
      'CN=d,O=Example',
      {},
      { dns: ['a.example'], ip: ['192.0.2.1'], email: ['u@example.com'] },
    );
    const body = cfsslSignRequest(req, 'client');
    expect(pemBlocks(body.certificate_request)[0]).toEqual({
      label: 'CERTIFICATE REQUEST',
      der: req.csr.der,
    });
    expect(body).toMatchObject({ hosts: ['a.example', '192.0.2.1', 'u@example.com'], profile: 'client' });
    expect(body).not.toHaveProperty('subject');
    expect(cfsslSignRequest(request('CN=d'))).toEqual(expect.objectContaining({ hosts: [] }));
    expect(cfsslSignRequest(request('CN=d'))).not.toHaveProperty('profile');
  });

  it('approved SANs replace the CSR’s', () => {
    const req = request(
      'CN=d',
      { sans: { ...noSans, dns: ['approved.example'] } },
      { dns: ['asked.example'] },
    );
    expect(cfsslSignRequest(req).hosts).toEqual(['approved.example']);
  });

  it.each([
    [
      'serialNumber=42,CN=new,OU=Devices,O=Example,L=SF,ST=CA,C=US',
      {
        CN: 'new',
        SerialNumber: '42',
        names: [{ C: 'US' }, { ST: 'CA' }, { L: 'SF' }, { O: 'Example' }, { OU: 'Devices' }],
      },
    ],
    ['CN=x,OU=B,OU=A,O=Example', { CN: 'x', names: [{ O: 'Example' }, { OU: 'A' }, { OU: 'B' }] }],
  ])('maps a subject override %s', (override, subject) => {
    const req = request('CN=old,O=Example', { subject: parseDn(override).der });
    expect(cfsslSignRequest(req).subject).toEqual(subject);
  });

  it.each([
    [
      'a URI SAN',
      () => request('CN=d', { sans: { ...noSans, uri: ['tag:microsoft.com,2022-09-14:sid:S-1-5-21-1'] } }),
    ],
    ['a UPN SAN', () => request('CN=d', { sans: { ...noSans, upn: ['u@corp.test'] } })],
    [
      'an extension',
      () =>
        request('CN=d', {
          extraExtensions: [{ oid: '1.3.6.1.4.1.311.25.2', critical: false, valueDer: Buffer.from([5, 0]) }],
        }),
    ],
    ['a subject attribute cfssl drops', () => request('CN=d,DC=corp,DC=test')],
    [
      'an override with an attribute cfssl drops',
      () => request('CN=d', { subject: parseDn('CN=d,emailAddress=u@example.com').der }),
    ],
    [
      'an override cfssl would fill from the CSR',
      () => request('CN=d,O=Example', { subject: parseDn('CN=other').der }),
    ],
    ['a multi-valued RDN', () => request('CN=d+UID=7')],
  ])('refuses %s as unsupported', (_name, req) => {
    expect(() => cfsslSignRequest(req())).toThrow(expect.objectContaining({ code: ErrorCodes.unsupported }));
  });
});
