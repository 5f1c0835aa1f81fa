import type { ParsedCsr } from '../../../certs/csr.js';
import { Oid } from '../../../certs/oids.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import type { EnrichmentRequest } from './ports.js';

/**
 * Where the lookup key comes from. `challenge` (the JWS `userId` claim, or a link job's userId)
 * is the one the requester cannot choose; the CSR sources are only as trustworthy as the
 * challenge that pins them (a JWS challenge with `subject`/`sans` claims, or a one-time challenge
 * handed to one device).
 */
export const LOOKUP_SOURCES = ['challenge', 'subjectCN', 'sanUpn', 'sanEmail'] as const;
export type LookupSource = (typeof LOOKUP_SOURCES)[number];

/** Where {{DeviceId}} comes from. */
export const DEVICE_ID_SOURCES = ['challenge', 'subjectCN', 'subjectSerialNumber'] as const;
export type DeviceIdSource = (typeof DEVICE_ID_SOURCES)[number];

function subjectValue(csr: ParsedCsr, oid: string): string | undefined {
  // rdns are in DER order (least specific first); the most specific CN is the last one.
  const values = csr.subject.rdns.flat().filter((a) => a.oid === oid);
  return values[values.length - 1]?.value;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.length === 0 ? undefined : v;
}

export function lookupValue(source: LookupSource, req: EnrichmentRequest): string {
  const value = nonEmpty(
    source === 'challenge'
      ? req.claims.userId
      : source === 'subjectCN'
        ? subjectValue(req.csr, Oid.commonName)
        : source === 'sanUpn'
          ? req.csr.sans.upn[0]
          : req.csr.sans.email[0],
  );
  if (value === undefined) {
    throw new OutpostError(ErrorCodes.badRequest, 'the request does not name a user to look up', {
      detail: `lookupFrom ${source} is empty`,
    });
  }
  return value;
}

export function deviceIdValue(source: DeviceIdSource, req: EnrichmentRequest): string | undefined {
  if (source === 'challenge') return nonEmpty(req.claims.deviceId);
  return nonEmpty(subjectValue(req.csr, source === 'subjectCN' ? Oid.commonName : Oid.serialNumber));
}
