import type { DistinguishedName } from '../../../certs/csr.js';
import { nameFromDer } from '../../../certs/name.js';
import { Oid } from '../../../certs/oids.js';
import { toPem } from '../../../certs/pem.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import type { IssueRequest } from '../ca-backend.js';

/** cfssl's subject override (signer.Subject): CN, SerialNumber and a list of {C, ST, L, O, OU}. */
export interface CfsslSubject {
  CN?: string;
  names: Array<Partial<Record<CfsslNameField, string>>>;
  SerialNumber?: string;
}

type CfsslNameField = 'C' | 'ST' | 'L' | 'O' | 'OU';

/** The JSON body of /api/v1/cfssl/sign (api/signhandler jsonSignRequest in cfssl 1.2). */
export interface CfsslSignRequest {
  certificate_request: string;
  hosts: string[];
  profile?: string;
  subject?: CfsslSubject;
}

const FIELD_BY_OID: ReadonlyMap<string, CfsslNameField> = new Map([
  [Oid.countryName, 'C'],
  [Oid.stateOrProvinceName, 'ST'],
  [Oid.localityName, 'L'],
  [Oid.organizationName, 'O'],
  [Oid.organizationalUnitName, 'OU'],
]);

function unsupported(what: string): OutpostError {
  return new OutpostError(ErrorCodes.unsupported, `cfssl cannot issue this certificate: ${what}`);
}

/**
 * cfssl 1.2 re-encodes the subject through Go's pkix.Name, which keeps C, ST, L, O, OU, CN and
 * serialNumber (in that fixed order) and drops everything else: a subject with other attributes
 * (emailAddress, DC, UID, …) or multi-valued RDNs is refused rather than silently cut down.
 */
function cfsslSubject(name: DistinguishedName): CfsslSubject {
  const subject: CfsslSubject = { names: [] };
  for (const rdn of name.rdns) {
    if (rdn.length !== 1) throw unsupported('multi-valued RDNs in the subject');
    const { oid, value } = rdn[0]!;
    const field = FIELD_BY_OID.get(oid);
    if (field) subject.names.push({ [field]: value });
    else if (oid === Oid.commonName && subject.CN === undefined) subject.CN = value;
    else if (oid === Oid.serialNumber && subject.SerialNumber === undefined) subject.SerialNumber = value;
    else
      throw unsupported(
        `subject attribute ${oid} (cfssl keeps only C, ST, L, O, OU, one CN, one serialNumber)`,
      );
  }
  return subject;
}

/** Attribute types of a name, for the override check below. */
function types(name: DistinguishedName): Set<string> {
  return new Set(name.rdns.flat().map((a) => a.oid));
}

/**
 * Maps an IssueRequest onto cfssl's sign request. SANs go to `hosts`, which cfssl 1.2 sorts into
 * IP addresses, e-mail addresses and DNS names (signer/local OverrideHosts) and always sends, so
 * the certificate carries exactly the SANs the Authority approved. cfssl 1.2 cannot write URI or
 * UPN SANs, and its REST API has no field for extra extensions (jsonSignRequest): both are
 * refused, so a SID strong mapping (SAN URI or the SID extension) cannot be issued by cfssl 1.2.
 * Validity, key usage and EKU come from the cfssl profile, not from the Outpost profile.
 */
export function cfsslSignRequest(req: IssueRequest, profile?: string): CfsslSignRequest {
  if (req.extraExtensions && req.extraExtensions.length > 0) {
    throw unsupported("cfssl's sign API carries no extensions");
  }
  const sans = req.sans ?? req.csr.sans;
  if (sans.uri.length > 0 || sans.upn.length > 0) {
    throw unsupported('cfssl 1.2 writes only DNS, IP and e-mail SANs (no URI, no UPN)');
  }
  const body: CfsslSignRequest = {
    certificate_request: toPem('CERTIFICATE REQUEST', req.csr.der),
    hosts: [...sans.dns, ...sans.ip, ...sans.email],
    ...(profile ? { profile } : {}),
  };
  if (!req.subject || req.subject.equals(req.csr.subject.der)) {
    cfsslSubject(req.csr.subject); // refuses what cfssl would drop
    return body;
  }
  const override = nameFromDer(req.subject);
  // cfssl fills every attribute type the override leaves empty from the CSR (PopulateSubjectFromCSR)
  const missing = [...types(req.csr.subject)].filter((oid) => !types(override).has(oid));
  if (missing.length > 0) {
    throw unsupported(
      `cfssl would copy subject attributes ${missing.join(', ')} from the CSR into the override`,
    );
  }
  return { ...body, subject: cfsslSubject(override) };
}
