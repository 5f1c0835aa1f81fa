import { z } from 'zod';
import { applianceRole, jobKind, linkId, roleList } from '../../link/schema/index.js';

const TEN_YEARS = 10 * 365 * 24 * 3600;
const ttl = (max: number) => z.number().int().min(1).max(max);
const shortText = z.string().min(1).max(1024);
const textList = z.array(shortText).max(64);

/** A site name: the appliances of one site share a CA, an RA and an inventory (issue 15). */
export const siteName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected letters, digits and . _ -');

/**
 * `POST /v1/admin/enrollment-tokens`: optional roles the token may enroll, the site the appliance
 * joins (default: `default`), and its lifetime.
 */
export const enrollmentTokenRequest = z.strictObject({
  ttlSeconds: ttl(30 * 24 * 3600).default(3600),
  roles: roleList.optional(),
  site: siteName.optional(),
});

/** `POST /v1/enroll`. */
export const enrollRequest = z.strictObject({
  token: z.string().min(1).max(256),
  csr: z
    .string()
    .min(1)
    .max(64 * 1024),
  roles: roleList,
});

/**
 * `POST /v1/admin/jobs`. `target`: one appliance, or any appliance of a role — of one site when `site`
 * is given, of any site otherwise.
 */
export const jobRequest = z.strictObject({
  kind: z.string().min(1).max(64),
  target: z.union([
    z.strictObject({ applianceId: linkId }),
    z.strictObject({ role: applianceRole, site: siteName.optional() }),
  ]),
  payload: z.unknown(),
});

export { jobKind };

/** `PUT /v1/admin/appliances/:id/config`: one section at least, each a JSON object. */
export const configRequest = z
  .strictObject({
    gateway: z.record(z.string(), z.unknown()).optional(),
    connector: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((c) => c.gateway !== undefined || c.connector !== undefined, {
    message: 'expected gateway and/or connector',
  });

/** `POST /v1/admin/scep-challenges`: what the CSR must contain (jws-challenge.ts claim names). */
export const scepChallengeRequest = z
  .strictObject({
    subject: shortText.optional(),
    sans: z
      .strictObject({
        dns: textList.optional(),
        email: textList.optional(),
        uri: textList.optional(),
        ip: textList.optional(),
        upn: textList.optional(),
      })
      .optional(),
    keyUsage: textList.optional(),
    eku: textList.optional(),
    /** The exact key size the CSR must have (the connector's `keySize` check is exact). */
    minKeySize: z.number().int().min(256).max(16384).optional(),
    keySize: z.number().int().min(256).max(16384).optional(),
    profile: shortText.optional(),
    deviceId: shortText.optional(),
    userId: shortText.optional(),
    ttlSeconds: ttl(TEN_YEARS).default(3600),
  })
  .refine((r) => r.minKeySize === undefined || r.keySize === undefined || r.minKeySize === r.keySize, {
    message: 'minKeySize and keySize disagree',
  });

const RESERVED_CLAIMS = ['iss', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sub'];

/** `POST /v1/admin/tokens`: a user token for the gateway's bearer auth. */
export const userTokenRequest = z.strictObject({
  sub: shortText,
  claims: z
    .record(z.string().min(1).max(128), z.unknown())
    .refine((c) => RESERVED_CLAIMS.every((name) => !(name in c)), {
      message: `claims may not set ${RESERVED_CLAIMS.join(', ')}`,
    })
    .refine((c) => JSON.stringify(c).length <= 16 * 1024, { message: 'claims too large' })
    .optional(),
  audience: shortText.default('outpost-gateway'),
  usernameClaim: z.string().min(1).max(128).default('upn'),
  ttlSeconds: ttl(30 * 24 * 3600).default(3600),
});

/** `GET /v1/admin/jobs` query. */
export const jobListQuery = z.strictObject({
  status: z.enum(['pending', 'running', 'done', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  offset: z.coerce.number().int().min(0).default(0),
});

/** `GET /v1/admin/events` query. */
export const eventListQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  applianceId: linkId.optional(),
});
