/**
 * The value of the first RDN of a DN when its type is CN ("CN=VPN Users,OU=Groups,…" → "VPN Users"),
 * with RFC 4514 §2.4 escapes removed (`\,`, `\+`, `\"`, `\\`, `\<`, `\>`, `\;`, `\=`, `\ `, `\#` and `\XX`
 * hex pairs, which may spell UTF-8 sequences). Anything else (no CN first, multi-valued RDN, hex-encoded
 * BER value `#…`) returns undefined so the caller can fall back to the full DN.
 */
export function groupCnFromDn(dn: string): string | undefined {
  const m = /^\s*cn\s*=/i.exec(dn);
  if (!m) return undefined;
  const bytes: number[] = [];
  let i = m[0].length;
  if (dn[i] === '#') return undefined;
  while (i < dn.length) {
    const c = dn[i]!;
    if (c === ',' || c === ';') break; // end of this RDN (RFC 4514 §3; ';' accepted from RFC 2253 parsers)
    if (c === '+') return undefined; // multi-valued RDN: not a plain group name
    if (c === '\\') {
      const pair = dn.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(pair)) {
        bytes.push(Number.parseInt(pair, 16));
        i += 3;
        continue;
      }
      const next = dn[i + 1];
      if (next === undefined) return undefined;
      bytes.push(...Buffer.from(next, 'utf8'));
      i += 2;
      continue;
    }
    const cp = dn.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    bytes.push(...Buffer.from(ch, 'utf8'));
    i += ch.length;
  }
  const value = Buffer.from(bytes).toString('utf8').trim();
  return value.length > 0 ? value : undefined;
}
