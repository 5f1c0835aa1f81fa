import type { ParsedCsr, SubjectAltNames } from '../../certs/csr.js';
import { dnEquals } from '../../certs/name.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { CsrExpectations } from './challenge/expectations.js';
import { fitKeyUsage, keyUsageFor, keyUsageForbiddenFor } from './key-usage.js';
import type { ProfilePolicy, SanKind } from './profile-policy.js';

const sanKinds: SanKind[] = ['dns', 'email', 'uri', 'ip', 'upn'];
const maxRsaBits = 8192;

function reject(clientMessage: string): OutpostError {
  return new OutpostError(ErrorCodes.badRequest, clientMessage);
}

function sameSet(a: readonly string[], b: readonly string[], caseInsensitive: boolean): boolean {
  const norm = (v: string) => (caseInsensitive ? v.toLowerCase() : v);
  const left = new Set(a.map(norm));
  const right = new Set(b.map(norm));
  return left.size === right.size && [...left].every((v) => right.has(v));
}

function checkKey(csr: ParsedCsr, profile: ProfilePolicy): void {
  if (!profile.keyTypes.includes(csr.keyType)) {
    throw reject(`key type ${csr.keyType} is not allowed by profile ${profile.name}`);
  }
  if (csr.keyType === 'rsa' && (csr.keyBits < profile.minRsaBits || csr.keyBits > maxRsaBits)) {
    throw reject(`RSA key of ${csr.keyBits} bits is outside ${profile.minRsaBits}..${maxRsaBits}`);
  }
  if (csr.keyType === 'ec' && csr.keyBits < 256) throw reject(`EC key of ${csr.keyBits} bits is too small`);
}

function checkSanKinds(sans: SubjectAltNames, profile: ProfilePolicy): void {
  for (const kind of sanKinds) {
    if (sans[kind].length > 0 && !profile.allowedSanTypes.includes(kind)) {
      throw reject(`SAN type ${kind} is not allowed by profile ${profile.name}`);
    }
  }
}

function checkRequestedUsages(csr: ParsedCsr, keyUsage: string[], eku: string[]): void {
  const extraKu = csr.requestedKeyUsage.filter((u) => !keyUsage.includes(u));
  if (extraKu.length > 0) throw reject(`key usage ${extraKu.join(', ')} is not allowed`);
  const extraEku = csr.requestedEku.filter((u) => !eku.includes(u));
  if (extraEku.length > 0) throw reject(`extended key usage ${extraEku.join(', ')} is not allowed`);
}

function checkExpectations(csr: ParsedCsr, expected: CsrExpectations): void {
  if (expected.subject !== undefined && !dnEquals(csr.subject.text, expected.subject)) {
    throw reject('subject does not match the challenge');
  }
  if (expected.sans) {
    for (const kind of sanKinds) {
      const want = expected.sans[kind] ?? [];
      // DNS names and e-mail domains compare case-insensitively (RFC 5280 §7.2, §7.5); URIs and UPNs exactly.
      if (!sameSet(csr.sans[kind], want, kind === 'dns' || kind === 'email')) {
        throw reject(`${kind} SANs do not match the challenge`);
      }
    }
  }
  if (expected.keySize !== undefined && csr.keyBits !== expected.keySize) {
    throw reject(`key size ${csr.keyBits} does not match the challenge (${expected.keySize})`);
  }
}

export interface UsagesToIssue {
  keyUsage: string[];
  eku: string[];
  /** Usages the profile or challenge listed that the key type cannot have: left out, to be logged. */
  droppedKeyUsage?: string[];
}

/**
 * Checks a CSR against its profile and the challenge's expectations, field by field, and returns
 * the usages the certificate gets: the challenge's when it pins them, otherwise the profile's,
 * otherwise the key type's (keyUsageFor). keyEncipherment and dataEncipherment never go into a
 * certificate for an EC key (RFC 5480 §3): listed ones come back in `droppedKeyUsage`, and a CSR
 * that asks for them is not refused for it (what a CSR asks for is only ever checked, not copied).
 */
export function checkCsr(csr: ParsedCsr, profile: ProfilePolicy, expected: CsrExpectations): UsagesToIssue {
  if (!csr.signatureValid) {
    throw new OutpostError(ErrorCodes.badSignature, 'the CSR signature does not verify');
  }
  checkKey(csr, profile);
  if (profile.subjectPattern && !profile.subjectPattern.test(csr.subject.text)) {
    throw reject(`subject does not match profile ${profile.name}`);
  }
  if (csr.subject.rdns.length === 0 && sanKinds.every((k) => csr.sans[k].length === 0)) {
    throw reject('the CSR has neither a subject nor a subject alternative name');
  }
  checkSanKinds(csr.sans, profile);
  checkExpectations(csr, expected);
  const listed = expected.keyUsage ?? profile.keyUsage ?? keyUsageFor(csr.keyType);
  const eku = expected.eku ?? profile.eku;
  checkRequestedUsages(csr, [...listed, ...keyUsageForbiddenFor(csr.keyType)], eku);
  const { keyUsage, dropped } = fitKeyUsage(listed, csr.keyType);
  return { keyUsage, eku, ...(dropped.length > 0 ? { droppedKeyUsage: dropped } : {}) };
}
