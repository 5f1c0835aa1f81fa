import { z } from 'zod';
import { LinkLimits } from '../schema/limits.js';
import { revocationReason } from '../schema/revocation-reason.js';

/**
 * Payload and result schemas of the connector's job kinds (pure zod, shared by the cloud and the
 * appliance). Binary values travel as base64; dates as RFC 3339 UTC. A job that fails reports a
 * wire error (`{code, retryable, message}`, see ../schema/common.ts) instead of a result.
 */
export const ConnectorJobLimits = {
  /** A PFX as base64: about 512 KiB decoded, well inside one link message. S/MIME files are a few KiB. */
  maxPfxBase64: 700_000,
  /** An RSA-OAEP ciphertext (up to an 8192-bit key = 1024 bytes) as base64. */
  maxCiphertextBase64: 1_400,
  /** RFC 4514 subject or issuer text. */
  maxNameLength: 2048,
  maxSans: 32,
  maxSanLength: 1024,
  maxPrincipalLength: 256,
} as const;

const base64 = (max: number) => z.base64().min(1).max(max);
const hex = (min: number, max: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${min},${max}}$`));

/** Lower-case hex of the DER INTEGER content of a serial number (colons allowed on input). */
const serialHex = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[0-9a-fA-F:]+$/, 'expected hexadecimal');

/** A certificate profile name, as in the connector config (`connector.profiles`). */
const profileName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a profile name');

/** RFC 4514 distinguished name text, e.g. `CN=alice,O=Example`. */
const distinguishedName = z.string().min(1).max(ConnectorJobLimits.maxNameLength);

/** An RSA public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`): the PFX password is encrypted to it. */
const devicePublicKey = z.string().min(1).max(LinkLimits.maxPemLength).includes('-----BEGIN PUBLIC KEY-----');

const principal = z.string().min(1).max(ConnectorJobLimits.maxPrincipalLength);

/** How the PKCS#12 is protected: `modern` = PBES2/AES-256 + SHA-256 MAC; `legacy` = 3DES + SHA-1 MAC (old devices). */
export const pkcs12Protection = z.enum(['modern', 'legacy']);

export const keyAlgorithm = z.enum(['rsa-2048', 'rsa-3072', 'rsa-4096', 'ec-p256', 'ec-p384']);

export const subjectAltName = z.object({
  type: z.enum(['dns', 'email', 'uri', 'upn', 'ip']),
  value: z.string().min(1).max(ConnectorJobLimits.maxSanLength),
});

/** How `encryptedPassword` in a result was made: RSAES-OAEP (RFC 8017 §7.1) with SHA-256 and MGF1-SHA-256. */
const passwordEncryption = z.literal('RSA-OAEP-SHA256');

const issuedFields = {
  /** Serial number, lower-case hex. */
  serialHex: z.string().regex(/^[0-9a-f]{1,128}$/),
  /** SHA-256 of the certificate DER, lower-case hex. */
  thumbprint: hex(64, 64),
  notAfter: z.iso.datetime({ offset: true }),
  /** The PKCS#12 file, base64. */
  pfx: base64(ConnectorJobLimits.maxPfxBase64),
  /** The PKCS#12 password (UTF-8), encrypted to `devicePublicKey`, base64. */
  encryptedPassword: base64(ConnectorJobLimits.maxCiphertextBase64),
  passwordEncryption,
};

/**
 * `cert.pkcs.issue`: the connector generates the key pair itself (server-side keys), has the
 * certificate issued under `profile` (its CSR rules apply; requester `job:<jobId>`), and returns a
 * PKCS#12 with key, certificate and CA chain, protected by a fresh random password that is
 * encrypted to the device's RSA key. Exactly once: a re-run of the same job id (after a crash)
 * returns the same certificate and key, newly wrapped.
 */
export const pkcsIssuePayload = z.strictObject({
  profile: profileName,
  subject: distinguishedName,
  sans: z.array(subjectAltName).max(ConnectorJobLimits.maxSans).optional(),
  keyAlgorithm,
  protection: pkcs12Protection,
  devicePublicKey,
  userId: principal.optional(),
  deviceId: principal.optional(),
});
export type PkcsIssuePayload = z.infer<typeof pkcsIssuePayload>;

export const pkcsIssueResult = z.strictObject(issuedFields);
export type PkcsIssueResult = z.infer<typeof pkcsIssueResult>;

/**
 * `cert.pfx.import`: an admin's S/MIME PFX, whose password is encrypted with RSA-OAEP-SHA512 to the
 * connector's import key (`outpost pfx export-key` prints it and its id; `outpost pfx encrypt`
 * makes the ciphertext). The connector checks it (key matches certificate, not expired,
 * emailProtection) and re-wraps it for the device with a new password encrypted to `devicePublicKey`.
 */
export const pfxImportPayload = z.strictObject({
  pfx: base64(ConnectorJobLimits.maxPfxBase64),
  encryptedPassword: base64(ConnectorJobLimits.maxCiphertextBase64),
  /** SHA-256 of the import key's SubjectPublicKeyInfo DER, hex. */
  importKeyId: hex(64, 64),
  protection: pkcs12Protection,
  devicePublicKey,
  userId: principal.optional(),
});
export type PfxImportPayload = z.infer<typeof pfxImportPayload>;

export const pfxImportResult = z.strictObject({
  ...issuedFields,
  /** RFC 4514 subject of the imported certificate. */
  subject: z.string().max(ConnectorJobLimits.maxNameLength * 2),
});
export type PfxImportResult = z.infer<typeof pfxImportResult>;

/**
 * `cert.revoke`: revoke a certificate this connector's CA issued; the CRL is regenerated. Already
 * revoked → `OUTPOST_ERR_CONFLICT` (final); unknown serial (or issuer) → `OUTPOST_ERR_NOT_FOUND`;
 * CA unreachable → `OUTPOST_ERR_UNAVAILABLE` (retryable).
 */
export const certRevokePayload = z.strictObject({
  /** When given, the certificate's issuer must be this name (compared after RFC 4518 normalization). */
  issuer: distinguishedName.optional(),
  serialHex,
  reason: revocationReason.optional(),
});
export type CertRevokePayload = z.infer<typeof certRevokePayload>;

export const certRevokeResult = z.strictObject({
  serialHex: z.string().regex(/^[0-9a-f]{1,128}$/),
  revokedAt: z.iso.datetime({ offset: true }),
});
export type CertRevokeResult = z.infer<typeof certRevokeResult>;

/** Connector job kinds: payload and result schema of each (merged into ../schema/job-kinds.ts). */
export const connectorJobs = {
  'cert.pkcs.issue': { role: 'connector', payload: pkcsIssuePayload, result: pkcsIssueResult },
  'cert.pfx.import': { role: 'connector', payload: pfxImportPayload, result: pfxImportResult },
  'cert.revoke': { role: 'connector', payload: certRevokePayload, result: certRevokeResult },
} as const;
