import { DecodeError } from '../core/errors.js';

/**
 * Active Directory `objectGUID` (16 bytes) in the registry form AD tools print:
 * the first three fields are little-endian (MS-DTYP §2.3.4.2 GUID packet), the last two are bytes.
 */
export function decodeObjectGuid(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new DecodeError('objectGUID: expected 16 bytes');
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, 16);
  const hex = (start: number, end: number, reverse: boolean): string => {
    const slice = Buffer.from(b.subarray(start, end));
    return (reverse ? slice.reverse() : slice).toString('hex');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join('-');
}
