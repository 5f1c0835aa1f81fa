import { z } from 'zod';

/**
 * The revocation reasons an operator or the cloud may give (RFC 5280 §5.3.1 reason names, without
 * removeFromCRL and the attribute-authority ones): one list for the `cert.revoke` job, the CLI's
 * `certs revoke --reason` and the connector's CA backends and inventory.
 */
export const revocationReasons = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
] as const;

export const revocationReason = z.enum(revocationReasons);
export type RevocationReason = z.infer<typeof revocationReason>;
