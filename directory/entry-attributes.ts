import type { Entry } from 'ldapts';
import { decodeObjectGuid } from './object-guid.js';
import { decodeObjectSid } from './object-sid.js';

/** Attributes ldapts must hand us as bytes: they are binary in AD and decoded here. */
export const BINARY_ATTRIBUTES = ['objectSid', 'objectGUID'];

const BINARY_DECODERS: Readonly<Record<string, (b: Uint8Array) => string>> = {
  objectsid: decodeObjectSid,
  objectguid: decodeObjectGuid,
};

/**
 * An entry's attributes keyed by lower-case name (LDAP attribute names are case-insensitive,
 * RFC 4512 §2.5), each with at most `maxValues` values. Undecodable binary values are dropped.
 */
export function entryAttributes(entry: Entry, maxValues: number): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, raw] of Object.entries(entry)) {
    if (name === 'dn') continue;
    const key = name.toLowerCase();
    const values = (Array.isArray(raw) ? raw : [raw]).slice(0, maxValues);
    const decode = BINARY_DECODERS[key];
    const text: string[] = [];
    for (const v of values) {
      if (typeof v === 'string') text.push(v);
      else if (decode) {
        try {
          text.push(decode(v));
        } catch {
          // a malformed SID/GUID is not worth failing a login over
        }
      } else text.push(v.toString('utf8'));
    }
    out[key] = text;
  }
  return out;
}
