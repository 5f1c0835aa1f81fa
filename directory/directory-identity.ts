import type { Entry } from 'ldapts';
import type { AttributeMapping } from './attribute-mapping.js';
import { decodeObjectSid, encodeObjectSid } from './object-sid.js';

/**
 * The identity attributes of one account, read through the directory's attribute mapping: what
 * the connector puts into certificates (subject/SAN templates, SID strong mapping).
 */
export interface DirectoryIdentity {
  /** The entry's DN as the directory returned it (AD's distinguishedName). */
  dn: string;
  userPrincipalName?: string;
  mail?: string;
  sAMAccountName?: string;
  /** Textual SID, "S-1-5-21-…" (MS-DTYP §2.4.2.1). */
  objectSid?: string;
}

/** What an account can be found by; each names a key of the attribute mapping. */
export type IdentityKey = 'upn' | 'mail' | 'sAMAccountName' | 'objectSid';

export function identityAttribute(m: AttributeMapping, key: IdentityKey): string {
  switch (key) {
    case 'upn':
      return m.userPrincipalName;
    case 'mail':
      return m.mail;
    case 'sAMAccountName':
      return m.sAMAccountName;
    case 'objectSid':
      return m.objectSid;
  }
}

/**
 * `entry`: the raw search entry (the SID attribute requested as bytes); `attributes`: the same
 * entry keyed by lower-case name with text values (entry-attributes.ts).
 */
export function identityFromEntry(
  entry: Entry,
  attributes: Record<string, string[]>,
  m: AttributeMapping,
): DirectoryIdentity {
  const first = (name: string) => {
    const v = attributes[name.toLowerCase()]?.[0];
    return v === undefined || v === '' ? undefined : v;
  };
  const upn = first(m.userPrincipalName);
  const mail = first(m.mail);
  const sam = first(m.sAMAccountName);
  const sid = sidFromValue(rawValue(entry, m.objectSid));
  return {
    dn: entry.dn,
    ...(upn !== undefined ? { userPrincipalName: upn } : {}),
    ...(mail !== undefined ? { mail } : {}),
    ...(sam !== undefined ? { sAMAccountName: sam } : {}),
    ...(sid !== undefined ? { objectSid: sid } : {}),
  };
}

/** First value of `name` in the raw entry, matching the name case-insensitively (RFC 4512 §2.5). */
function rawValue(entry: Entry, name: string): Buffer | string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'dn' || key.toLowerCase() !== lower) continue;
    const v = Array.isArray(value) ? value[0] : value;
    return v === undefined ? undefined : v;
  }
  return undefined;
}

/**
 * A SID from either storage form: AD's binary objectSid (revision byte 1) or a textual
 * "S-1-…" (Samba's sambaSID). Text is accepted only in the canonical form Windows prints, so that
 * what goes into a certificate compares equal on the DC. Malformed values count as absent.
 */
export function sidFromValue(value: Buffer | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  try {
    if (bytes[0] === 1) return decodeObjectSid(bytes);
    const text = bytes.toString('latin1').trim();
    return decodeObjectSid(encodeObjectSid(text)) === text ? text : undefined;
  } catch {
    return undefined;
  }
}
