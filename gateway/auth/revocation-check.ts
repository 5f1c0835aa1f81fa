import type { X509Certificate } from 'node:crypto';

export type RevocationStatus = 'good' | 'revoked' | 'unknown';

/**
 * Revocation status of a certificate by serial, asked before a client certificate is accepted.
 * For the built-in CA the answer is the connector's inventory; container/ wires it (the gateway
 * never imports the connector, DESIGN rule 2).
 */
export interface RevocationCheck {
  /** `serialHex`: lower-case hex of the serial's INTEGER content octets, as the inventory keys it. */
  status(serialHex: string, issuer: X509Certificate): RevocationStatus | Promise<RevocationStatus>;
}

/** The part of the connector's Inventory this needs, declared here so nothing is imported from it. */
export interface SerialStatusSource {
  bySerial(serialHex: string): Promise<{ status: 'valid' | 'revoked' } | undefined>;
}

/**
 * Inventory-backed check for certificates issued by `ca` (the built-in CA): revoked → revoked,
 * valid → good, not in the inventory → unknown (a certificate our CA signed but never recorded is
 * suspect). Certificates of any other issuer are unknown too: the inventory knows nothing of them.
 */
export function inventoryRevocationCheck(
  inventory: SerialStatusSource,
  ca: X509Certificate,
): RevocationCheck {
  return {
    async status(serialHex, issuer) {
      if (issuer.fingerprint256 !== ca.fingerprint256) return 'unknown';
      const record = await inventory.bySerial(serialHex);
      if (!record) return 'unknown';
      return record.status === 'revoked' ? 'revoked' : 'good';
    },
  };
}
