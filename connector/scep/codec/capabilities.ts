/**
 * GetCACaps keywords (RFC 8894 §3.5.2). POSTPKIOperation and SCEPStandard make scepclient POST
 * (otherwise it GETs with URL-safe base64); AES and SHA-256 make certmonger use AES-256 and SHA-256.
 * strongSwan's `pki --scep` (5.9.8) only believes the AES keyword when SHA-384 is listed beside it
 * (it refuses its default AES cipher otherwise), so every digest we accept is advertised.
 * GetNextCACert is not advertised: there is no staged CA rollover.
 */
export const defaultCapabilities: readonly string[] = [
  'POSTPKIOperation',
  'Renewal',
  'SHA-1',
  'SHA-256',
  'SHA-384',
  'SHA-512',
  'AES',
  'DES3',
  'SCEPStandard',
];

/** The GetCACaps body: one keyword per line (LF). */
export function capabilities(keywords: readonly string[] = defaultCapabilities): string {
  return keywords.join('\n');
}
