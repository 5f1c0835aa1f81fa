import type { NameAttribute } from './csr.js';
import { DN_SHORT_NAMES } from './oids.js';

/** An attribute as decoded: `rawHex` set when the value is not a string type (RFC 4514 §2.4 "#hex"). */
export interface DecodedAttribute extends NameAttribute {
  rawHex?: string;
}

/** RFC 4514 §2: most specific RDN first, multi-valued RDNs joined with '+'. */
export function formatRfc4514(rdns: DecodedAttribute[][]): string {
  return rdns
    .slice()
    .reverse()
    .map((rdn) => rdn.map(attributeText).join('+'))
    .join(',');
}

function attributeText(a: DecodedAttribute): string {
  return `${DN_SHORT_NAMES[a.oid] ?? a.oid}=${a.rawHex ? `#${a.rawHex}` : escapeValue(a.value)}`;
}

/** RFC 4514 §2.4: escape specials anywhere, '#' and space at the start, space at the end, NUL as \00. */
export function escapeValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\0') out += '\\00';
    else if (',+"\\<>;'.includes(c)) out += `\\${c}`;
    else if (i === 0 && (c === '#' || c === ' ')) out += `\\${c}`;
    else if (i === value.length - 1 && c === ' ') out += '\\ ';
    else out += c;
  }
  return out;
}
