import { DecodeError } from '../core/errors.js';

/**
 * Active Directory `objectSid` (MS-DTYP §2.4.2.2, SID packet representation):
 *   revision (1 byte) | sub-authority count (1) | identifier authority (6, big-endian) |
 *   sub-authorities (count × uint32, little-endian)
 * rendered as "S-1-5-21-…" (MS-DTYP §2.4.2.1). The connector maps certificates to AD accounts by SID
 * (KB5014754 strong mapping), so this must round-trip exactly.
 */
const MAX_SUB_AUTHORITIES = 15; // MS-DTYP §2.4.2: SubAuthorityCount "MUST be ≤ 15"

export function decodeObjectSid(bytes: Uint8Array): string {
  if (bytes.length < 8) throw new DecodeError('objectSid: shorter than 8 bytes');
  const revision = bytes[0]!;
  const count = bytes[1]!;
  if (revision !== 1) throw new DecodeError(`objectSid: revision ${revision}, expected 1`);
  if (count > MAX_SUB_AUTHORITIES) throw new DecodeError(`objectSid: ${count} sub-authorities (max 15)`);
  if (bytes.length !== 8 + 4 * count) throw new DecodeError('objectSid: length does not match its count');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // 48-bit authority: two reads keep it exact (Number is safe to 2^53).
  const authority = view.getUint16(2) * 2 ** 32 + view.getUint32(4);
  const parts = [`S-${revision}`, String(authority)];
  for (let i = 0; i < count; i++) parts.push(String(view.getUint32(8 + 4 * i, true)));
  return parts.join('-');
}

/** The inverse, for filters such as `(objectSid=…)` built from a textual SID. */
export function encodeObjectSid(text: string): Buffer {
  const m = /^S-1-(\d+)((?:-\d+){0,15})$/.exec(text);
  if (!m) throw new DecodeError('objectSid: expected S-1-<authority>[-<sub-authority>]…');
  const authority = Number(m[1]);
  const subs = m[2] ? m[2].slice(1).split('-').map(Number) : [];
  if (!Number.isSafeInteger(authority) || authority >= 2 ** 48) {
    throw new DecodeError('objectSid: authority out of range');
  }
  if (subs.some((s) => s > 0xffffffff)) throw new DecodeError('objectSid: sub-authority out of range');
  const out = Buffer.alloc(8 + 4 * subs.length);
  out[0] = 1;
  out[1] = subs.length;
  out.writeUInt16BE(Math.floor(authority / 2 ** 32), 2);
  out.writeUInt32BE(authority % 2 ** 32, 4);
  for (const [i, s] of subs.entries()) out.writeUInt32LE(s, 8 + 4 * i);
  return out;
}
