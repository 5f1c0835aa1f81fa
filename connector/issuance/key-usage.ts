/**
 * RFC 5480 §3: a certificate for an id-ecPublicKey MUST NOT assert keyEncipherment or
 * dataEncipherment (an EC key cannot encrypt; ECDH is keyAgreement). RFC 8813 §3 repeats it.
 */
const notForEcKeys: ReadonlySet<string> = new Set(['keyEncipherment', 'dataEncipherment']);

/**
 * The key usage of a certificate whose profile (and challenge) lists none: RSA signs and
 * transports keys (TLS RSA key exchange, S/MIME, the SCEP envelope itself), EC only signs.
 */
export function keyUsageFor(keyType: 'rsa' | 'ec'): string[] {
  return keyType === 'rsa' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
}

/** Usages a key of this type may never carry, even when asked for. */
export function keyUsageForbiddenFor(keyType: 'rsa' | 'ec'): string[] {
  return keyType === 'ec' ? [...notForEcKeys] : [];
}

/**
 * Fits a listed key usage to the key type: for an EC key, keyEncipherment and dataEncipherment
 * are dropped (the caller logs a warning: the profile asks for what the key cannot do).
 */
export function fitKeyUsage(
  listed: readonly string[],
  keyType: 'rsa' | 'ec',
): { keyUsage: string[]; dropped: string[] } {
  if (keyType !== 'ec') return { keyUsage: [...listed], dropped: [] };
  return {
    keyUsage: listed.filter((u) => !notForEcKeys.has(u)),
    dropped: listed.filter((u) => notForEcKeys.has(u)),
  };
}
