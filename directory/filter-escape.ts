/**
 * Escapes a value for an LDAP search filter string (RFC 4515 §3): the asterisk, the parentheses, the
 * backslash and NUL must be written as `\XX`. Everything else, including UTF-8 beyond ASCII, may stay
 * literal (`normal = UTF1SUBSET / UTFMB`).
 *
 * We deliberately do not hex-escape non-ASCII: ldapts's filter parser turns each `\XX` into one
 * UTF-16 code unit and then re-encodes the string as UTF-8, so escaping the bytes of "é" would search
 * for "Ã©". Binary values (objectSid) therefore go into filter objects as Buffers, never through text.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
