import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jobKinds } from '../schema/job-kinds.js';
import {
  ConnectorJobLimits,
  certRevokePayload,
  connectorJobs,
  pfxImportPayload,
  pkcsIssuePayload,
  pkcsIssueResult,
} from './connector-jobs.js';

const PEM = '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n';

const valid = {
  'cert.pkcs.issue': {
    profile: 'user',
    subject: 'CN=Alice,O=Corp',
    sans: [{ type: 'upn', value: 'alice@corp.test' }],
    keyAlgorithm: 'rsa-2048',
    protection: 'legacy',
    devicePublicKey: PEM,
  },
  'cert.pfx.import': {
    pfx: 'MIIK',
    encryptedPassword: 'AAAA',
    importKeyId: 'ab'.repeat(32),
    protection: 'modern',
    devicePublicKey: PEM,
    userId: 'alice',
  },
  'cert.revoke': { serialHex: '01:AB:cd', issuer: 'CN=Outpost Root CA,O=Outpost', reason: 'keyCompromise' },
} as const;

describe('connector job schemas', () => {
  it.each(Object.entries(valid))('%s accepts a well-formed payload', (kind, payload) => {
    expect(connectorJobs[kind as keyof typeof connectorJobs].payload.safeParse(payload).success).toBe(true);
  });

  it.each([
    [
      'a PFX beyond the limit',
      pfxImportPayload,
      { ...valid['cert.pfx.import'], pfx: 'A'.repeat(ConnectorJobLimits.maxPfxBase64 + 4) },
    ],
    ['a PFX that is not base64', pfxImportPayload, { ...valid['cert.pfx.import'], pfx: 'not base64!' }],
    ['a short import key id', pfxImportPayload, { ...valid['cert.pfx.import'], importKeyId: 'abcd' }],
    [
      '33 SANs',
      pkcsIssuePayload,
      { ...valid['cert.pkcs.issue'], sans: Array(33).fill({ type: 'dns', value: 'a' }) },
    ],
    ['a profile name with a slash', pkcsIssuePayload, { ...valid['cert.pkcs.issue'], profile: 'a/b' }],
    ['an unknown reason', certRevokePayload, { serialHex: '01', reason: 'boredom' }],
    ['a serial that is not hex', certRevokePayload, { serialHex: '0x01' }],
  ] as const)('refuses %s', (_name, schema, payload) => {
    expect(schema.safeParse(payload).success).toBe(false);
  });

  it('never throws on arbitrary JSON, only reports', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const spec of Object.values(connectorJobs)) {
          expect(typeof spec.payload.safeParse(value).success).toBe('boolean');
          expect(typeof spec.result.safeParse(value).success).toBe('boolean');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('results carry the password encryption name and ISO dates', () => {
    const result = {
      serialHex: '01ab',
      thumbprint: 'cd'.repeat(32),
      notAfter: '2026-01-01T00:00:00.000Z',
      pfx: 'MIIK',
      encryptedPassword: 'AAAA',
      passwordEncryption: 'RSA-OAEP-SHA256',
    };
    expect(pkcsIssueResult.safeParse(result).success).toBe(true);
    expect(pkcsIssueResult.safeParse({ ...result, passwordEncryption: 'RSA-PKCS1' }).success).toBe(false);
    expect(pkcsIssueResult.safeParse({ ...result, notAfter: 'tomorrow' }).success).toBe(false);
  });

  it('has the connector kinds the link schema knows', () => {
    for (const kind of Object.keys(connectorJobs)) expect(Object.hasOwn(jobKinds, kind)).toBe(true);
  });
});
