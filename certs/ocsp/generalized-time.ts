import { tlv } from '../der-writer.js';

/**
 * GeneralizedTime "YYYYMMDDHHMMSSZ": OCSP times are always GeneralizedTime (RFC 6960 §4.2.1),
 * and DER forbids fractional zero seconds, so we write whole seconds (RFC 5280 §4.1.2.5.2).
 */
export function generalizedTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (!Number.isFinite(date.getTime()) || year < 0 || year > 9999) throw new RangeError('time out of range');
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z
  const text = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return tlv(0x18, Buffer.from(text, 'ascii'));
}
