import { DecodeError } from '../core/errors.js';
import type { AsnNode } from './der-reader.js';

const UTC_TIME = 23;
const GENERALIZED_TIME = 24;
const UTC_TIME_TEXT = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
/** Fractions are not DER for certificates (RFC 5280 §4.1.2.5.2) but some CAs wrote them. */
const GENERALIZED_TIME_TEXT = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:[.,](\d+))?Z$/;

/**
 * Time ::= CHOICE { utcTime, generalTime } (RFC 5280 §4.1.2.5): UTCTime years 50–99 are 19xx,
 * 00–49 are 20xx (§4.1.2.5.1); both in UTC with seconds, as the profile requires.
 */
export function timeValue(node: AsnNode | undefined, what: string): Date {
  if (node === undefined || node.tagClass !== 0 || node.constructed)
    throw new DecodeError(`${what}: not a time`);
  const text = node.source.toString('latin1', node.contentStart, node.contentEnd);
  let date: Date | undefined;
  if (node.tagNumber === UTC_TIME) date = utcTime(text);
  else if (node.tagNumber === GENERALIZED_TIME) date = generalizedTime(text);
  if (!date || Number.isNaN(date.getTime())) throw new DecodeError(`${what}: not a time`);
  return date;
}

function utcTime(text: string): Date | undefined {
  const m = UTC_TIME_TEXT.exec(text);
  if (!m) return undefined;
  const yy = Number(m[1]);
  return utc(yy >= 50 ? 1900 + yy : 2000 + yy, m, 0);
}

function generalizedTime(text: string): Date | undefined {
  const m = GENERALIZED_TIME_TEXT.exec(text);
  if (!m) return undefined;
  const millis = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  return utc(Number(m[1]), m, millis);
}

function utc(year: number, m: RegExpExecArray, millis: number): Date {
  const month = Number(m[2]);
  return new Date(Date.UTC(year, month - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), millis));
}
