import type { ParsedCertificate } from '../../../certs/parsed-certificate.js';
import {
  decodeSidExtension,
  encodeSidExtension,
  SidOid,
  sidFromUri,
  sidUri,
} from '../../../certs/sid-extension.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import type { ExtraExtension } from '../../ca/ca-backend.js';

/**
 * How a profile maps certificates to AD accounts (KB5014754): the szOID_NTDS_CA_SECURITY_EXT
 * extension (what AD CS writes; needs a CA that can add custom extensions), the SAN URI
 * `tag:microsoft.com,2022-09-14:sid:…` (works through CAs that only take SANs), or both.
 */
export const SID_MAPPINGS = ['none', 'extension', 'uri', 'both'] as const;
export type SidMapping = (typeof SID_MAPPINGS)[number];

export interface SidArtifacts {
  extension?: ExtraExtension;
  uri?: string;
}

/** Throws badRequest when the mapping is required but the account has no SID. */
export function sidArtifacts(mapping: SidMapping, sid: string | undefined, dn: string): SidArtifacts {
  if (mapping === 'none') return {};
  if (sid === undefined) {
    throw new OutpostError(ErrorCodes.badRequest, 'the directory account has no SID for the strong mapping', {
      detail: `${dn} has no value for the attribute mapped to objectSid`,
    });
  }
  return {
    // Non-critical, as AD CS marks it: other relying parties must not reject the certificate.
    ...(mapping !== 'uri'
      ? { extension: { oid: SidOid.extension, critical: false, valueDer: encodeSidExtension(sid) } }
      : {}),
    ...(mapping !== 'extension' ? { uri: sidUri(sid) } : {}),
  };
}

/** The SID a certificate maps to, from the extension or the SAN URI; undefined when it has none. */
export function certificateSid(cert: ParsedCertificate): string | undefined {
  try {
    const ext = cert.extensions.find((e) => e.oid === SidOid.extension);
    if (ext) return decodeSidExtension(ext.value);
    for (const uri of cert.sans.uri) {
      const sid = sidFromUri(uri);
      if (sid) return sid;
    }
  } catch {
    // a malformed mapping in an old certificate: renew by the configured lookup instead
  }
  return undefined;
}
