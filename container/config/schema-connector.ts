import { z } from 'zod';
import { derivePublicUrl } from './public-url.js';
import { boundedInt, listenAddress, section, uniqueList, urlWithScheme } from './schema-common.js';

export const CA_TYPES = ['builtin', 'scep-upstream', 'cfssl'] as const;
/** Backends whose adapters exist; the others are reserved names that fail validation for now. */
export const IMPLEMENTED_CA_TYPES: readonly string[] = ['builtin'];

export const KEY_USAGES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

export const EKU_NAMES = [
  'clientAuth',
  'serverAuth',
  'emailProtection',
  'codeSigning',
  'timeStamping',
  'OCSPSigning',
  'ipsecIKE',
  'msSmartcardLogin',
] as const;

export const SAN_TYPES = ['dns', 'email', 'uri', 'ip', 'upn'] as const;

const DOTTED_OID = /^[0-2](\.(0|[1-9]\d*))+$/;

const ekuEntry = z
  .string()
  .refine((v) => (EKU_NAMES as readonly string[]).includes(v) || DOTTED_OID.test(v), {
    message: `expected one of ${EKU_NAMES.join(', ')} or a dotted OID`,
  });

const regexSource = z.string().refine(
  (source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected a valid regular expression' },
);

const scepSchema = z
  .strictObject({
    listen: listenAddress.default('0.0.0.0:8080'),
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~/-]*$/, { message: 'expected a URL path starting with /' })
      .default('/scep'),
    /** Base URL devices use (scheme://host:port); the SCEP endpoint is publicUrl + path. Derived from listen when absent. */
    publicUrl: urlWithScheme(['http:', 'https:'])
      .refine((u) => !u.endsWith('/'), { message: 'expected a URL without a trailing /' })
      .optional(),
    challenge: section(
      z.strictObject({
        /** A shared static challenge (standalone only). A secret: masked in output, never logged. */
        static: z.string().min(1).max(1024).nullable().default(null),
        /** JWKS (file path or URL) whose keys sign cloud-minted challenges. */
        jwks: z.string().min(1).nullable().default(null),
        /** Accept one-time challenges minted with `outpost scep challenge`. */
        oneTime: z.boolean().default(true),
      }),
    ),
    /**
     * SCEP worker processes (node:cluster sharing the listener): each RSA operation runs on the
     * thread that asked for it, so one process uses one core. 0 = one per CPU; 1 = in-process.
     */
    workers: boundedInt(0, 64).default(0),
    limits: section(
      z.strictObject({
        maxBodyBytes: boundedInt(1024, 16 * 1024 * 1024).default(262144),
        /** 0 disables the per-client rate limit. */
        ratePerClientPerMinute: boundedInt(0, 1_000_000).default(600),
        maxConcurrent: boundedInt(1, 10_000).default(64),
        requestTimeoutMs: boundedInt(100, 600_000).default(10_000),
      }),
    ),
  })
  .transform((scep) => ({ ...scep, publicUrl: scep.publicUrl ?? derivePublicUrl(scep.listen) }));

const caSchema = z.strictObject({
  type: z
    .enum(CA_TYPES)
    .default('builtin')
    .refine((type) => IMPLEMENTED_CA_TYPES.includes(type), {
      message: `expected ${IMPLEMENTED_CA_TYPES.join(', ')} (${CA_TYPES.filter((t) => !IMPLEMENTED_CA_TYPES.includes(t)).join(' and ')}: not available yet)`,
    }),
  keyAlgorithm: z.enum(['rsa-3072', 'rsa-2048', 'ec-p384']).default('rsa-3072'),
  /** RFC 4514 subject of the built-in root. */
  subject: z.string().min(1).max(1024).default('CN=Outpost Root CA,O=Outpost'),
  crlValidityHours: boundedInt(1, 24 * 365).default(168),
});

export const profileSchema = z.strictObject({
  validityDays: boundedInt(1, 3650).default(365),
  keyUsage: uniqueList(z.enum(KEY_USAGES)).default(['digitalSignature', 'keyEncipherment']),
  eku: uniqueList(ekuEntry).default(['clientAuth']),
  keyTypes: uniqueList(z.enum(['rsa', 'ec']))
    .min(1)
    .default(['rsa', 'ec']),
  minRsaBits: boundedInt(1024, 16384).default(2048),
  /** manual: requests wait for `outpost certs approve`. */
  approval: z.enum(['auto', 'manual']).default('auto'),
  /** Regular expression the RFC 4514 subject text must match. */
  subjectPattern: regexSource.optional(),
  allowedSanTypes: uniqueList(z.enum(SAN_TYPES)).default([...SAN_TYPES]),
});

const PROFILE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const connectorSchema = z
  .strictObject({
    scep: section(scepSchema),
    ca: section(caSchema),
    profiles: z
      .record(
        z.string().regex(PROFILE_NAME, { message: 'expected a profile name of letters, digits, _ or -' }),
        section(profileSchema),
      )
      .prefault({ device: {} }),
    defaultProfile: z.string().default('device'),
  })
  .superRefine((connector, ctx) => {
    if (!Object.hasOwn(connector.profiles, connector.defaultProfile)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultProfile'],
        input: connector.defaultProfile,
        message: `expected one of the profiles: ${Object.keys(connector.profiles).join(', ') || '(none)'}`,
      });
    }
  });
