import { DecodeError } from '../../../core/errors.js';

const DEFAULT_MAX_BYTES = 256 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function percentDecode(param: string): string {
  if (!param.includes('%')) return param;
  try {
    return decodeURIComponent(param);
  } catch (cause) {
    throw new DecodeError('message parameter: bad percent-encoding', { cause });
  }
}

/**
 * The pkiMessage of a GET PKIOperation (RFC 8894 §4.1: base64 in the `message` query parameter).
 * Accepts the parameter raw or percent-decoded, in standard or URL-safe base64: scepclient uses the
 * URL-safe alphabet (`-_`) when POST is not advertised, certmonger standard base64 even when it is.
 * A space stands for a `+` that a form decoder already turned into one; line breaks are ignored.
 */
export function decodeGetMessageParam(param: string, limits: { maxBytes?: number } = {}): Buffer {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  // base64 is 4/3 of the bytes; percent-encoding can triple each character
  if (param.length > Math.ceil(maxBytes / 3) * 4 * 3 + 16)
    throw new DecodeError('message parameter too large');
  const text = percentDecode(param)
    .replace(/[\r\n]/g, '')
    .replace(/ /g, '+')
    .replace(/-/g, '+')
    .replace(/_/g, '/');
  if (text.length === 0 || text.length % 4 === 1 || !BASE64.test(text)) {
    throw new DecodeError('message parameter is not base64');
  }
  if (Math.floor((text.length * 3) / 4) > maxBytes + 2) throw new DecodeError('message parameter too large');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length === 0 || bytes.length > maxBytes)
    throw new DecodeError('message parameter too large or empty');
  return bytes;
}
