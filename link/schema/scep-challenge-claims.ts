import { z } from 'zod';

const names = z.array(z.string());

/**
 * The claims of a SCEP challenge (a compact JWS the cloud mints, DESIGN "Challenges") that pin
 * what the CSR must contain: the cloud writes them (cloud/tokens/token-issuer.ts), the connector
 * reads them (connector/issuance/challenge/jws-challenge.ts) and checks the CSR against each one
 * present (connector/issuance/csr-policy.ts). Unknown claims are ignored (stripped); a known claim
 * of the wrong type refuses the challenge. `exp`, `jti`, `iss` and `aud` are the JWT's own.
 */
export const scepChallengeClaims = z.object({
  /** RFC 4514 subject, compared after normalization. */
  subject: z.string().optional(),
  sans: z
    .object({
      dns: names.optional(),
      email: names.optional(),
      uri: names.optional(),
      ip: names.optional(),
      upn: names.optional(),
    })
    .optional(),
  /** Key usage names the certificate will carry; a CSR that requests others is refused. */
  keyUsage: names.optional(),
  /** EKU names or OIDs the certificate will carry; a CSR that requests others is refused. */
  eku: names.optional(),
  /** Exact key size in bits (RSA modulus or EC field size). */
  keySize: z.number().refine(Number.isInteger, 'expected an integer').optional(),
  profile: z.string().optional(),
  deviceId: z.string().optional(),
  userId: z.string().optional(),
});
export type ScepChallengeClaims = z.infer<typeof scepChallengeClaims>;
