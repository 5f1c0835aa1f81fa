import { z } from 'zod';
import { DEVICE_ID_SOURCES, LOOKUP_SOURCES } from '../../connector/issuance/enrichment/request-values.js';
import { compileSanTemplate, SAN_TEMPLATE_TYPES } from '../../connector/issuance/enrichment/san-template.js';
import { SID_MAPPINGS } from '../../connector/issuance/enrichment/sid-mapping.js';
import { compileSubjectTemplate } from '../../connector/issuance/enrichment/subject-template.js';
import { parseTemplate, templateVariables } from '../../connector/issuance/enrichment/template.js';
import { OutpostError } from '../../core/errors.js';
import { derivePublicUrl } from './public-url.js';
import {
  boundedInt,
  filePath,
  listenAddress,
  section,
  uniqueList,
  urlWithScheme,
  workerCount,
} from './schema-common.js';

export const CA_TYPES = ['builtin', 'scep-upstream', 'cfssl'] as const;
/** Backends whose adapters exist; the others are reserved names that fail validation for now. */
export const IMPLEMENTED_CA_TYPES: readonly string[] = ['builtin', 'scep-upstream', 'cfssl'];

type CaType = (typeof CA_TYPES)[number];

/**
 * Keys that belong to one remote CA type. The built-in CA's keys (keyAlgorithm, subject,
 * crlValidityHours) apply whatever the type: the built-in CA stays the issuer of the SCEP RA
 * certificate and of the gateway's own TLS certificate.
 */
const CA_TYPE_KEYS = {
  url: ['scep-upstream', 'cfssl'],
  timeoutMs: ['scep-upstream', 'cfssl'],
  authKeyFile: ['cfssl'],
  profile: ['cfssl'],
  challengeFile: ['scep-upstream'],
  caFingerprint: ['scep-upstream'],
  pollIntervalSeconds: ['scep-upstream'],
  pollTimeoutSeconds: ['scep-upstream'],
} as const satisfies Record<string, readonly CaType[]>;

const CA_DEFAULTS = { timeoutMs: 10_000, pollIntervalSeconds: 60, pollTimeoutSeconds: 86_400 } as const;

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
     * Processes that serve SCEP (see workerCount): 1 = the appliance process; N = N worker
     * processes, each handed connections by the appliance process (which keeps the listener,
     * the CA, database and CRL); auto = one per CPU. Each RSA operation runs on the thread that
     * asked for it, so one process uses one core. Default 1. (0, the old spelling of auto, still loads with
     * a deprecation warning: see deprecated-values.ts.)
     */
    workers: workerCount.default(1),
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

const caFields = z.strictObject({
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
  /** RFC 6960 responder for the built-in CA at <scep.publicUrl>/ocsp, named in each certificate's AIA. */
  ocsp: section(
    z.strictObject({
      enabled: z.boolean().default(true),
      /** thisUpdate → nextUpdate of each answer: how long a client may cache it. */
      validityMinutes: boundedInt(1, 7 * 24 * 60).default(60),
    }),
  ),
  /** scep-upstream: the upstream's SCEP URL (…/scep); cfssl: the base URL of `cfssl serve`. */
  url: urlWithScheme(['http:', 'https:']).optional(),
  /** Time limit of each request to the CA (connect to last byte); default 10000. */
  timeoutMs: boundedInt(100, 120_000).optional(),
  /** cfssl: file holding the hex HMAC key of the profile's auth_key (requests go to authsign). */
  authKeyFile: filePath.optional(),
  /** cfssl: signing profile name (cfssl's default profile when absent). */
  profile: z.string().min(1).max(128).optional(),
  /** scep-upstream: the upstream's challenge, put into CSRs the RA builds for keys it generated. */
  challengeFile: filePath.optional(),
  /** scep-upstream: SHA-256 of the upstream CA certificate; GetCACert must chain to it. */
  caFingerprint: z
    .string()
    .refine((t) => /^[0-9a-fA-F]{64}$/.test(t.replace(/[:\s]/g, '')), {
      message: 'expected a SHA-256 fingerprint (64 hex digits, colons allowed)',
    })
    .optional(),
  /** scep-upstream: ask about a PENDING request at most this often (default 60). */
  pollIntervalSeconds: boundedInt(1, 86_400).optional(),
  /** scep-upstream: give a PENDING request up after this long (default 86400). */
  pollTimeoutSeconds: boundedInt(10, 30 * 86_400).optional(),
});

/** Each remote type's keys only with that type, and a URL for every remote type. */
function checkCaKeys(ca: z.output<typeof caFields>, ctx: z.RefinementCtx): void {
  for (const [key, types] of Object.entries(CA_TYPE_KEYS) as Array<
    [keyof typeof CA_TYPE_KEYS, readonly CaType[]]
  >) {
    if (ca[key] !== undefined && !types.includes(ca.type)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        input: ca[key],
        message: `expected only with type ${types.join(' or ')}`,
      });
    }
  }
  if (ca.type !== 'builtin' && ca.url === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['url'],
      input: undefined,
      message: `expected a URL (type ${ca.type} needs one)`,
    });
  }
}

/** The validated CA section, one shape per type (defaults applied for that type only). */
function typedCa(ca: z.output<typeof caFields>) {
  const builtin = {
    keyAlgorithm: ca.keyAlgorithm,
    subject: ca.subject,
    crlValidityHours: ca.crlValidityHours,
    ocsp: ca.ocsp,
  };
  const remote = { url: ca.url ?? '', timeoutMs: ca.timeoutMs ?? CA_DEFAULTS.timeoutMs };
  switch (ca.type) {
    case 'cfssl':
      return {
        type: ca.type,
        ...builtin,
        ...remote,
        ...(ca.authKeyFile !== undefined ? { authKeyFile: ca.authKeyFile } : {}),
        ...(ca.profile !== undefined ? { profile: ca.profile } : {}),
      };
    case 'scep-upstream':
      return {
        type: ca.type,
        ...builtin,
        ...remote,
        ...(ca.challengeFile !== undefined ? { challengeFile: ca.challengeFile } : {}),
        ...(ca.caFingerprint !== undefined ? { caFingerprint: ca.caFingerprint } : {}),
        pollIntervalSeconds: ca.pollIntervalSeconds ?? CA_DEFAULTS.pollIntervalSeconds,
        pollTimeoutSeconds: ca.pollTimeoutSeconds ?? CA_DEFAULTS.pollTimeoutSeconds,
      };
    default:
      return { type: 'builtin' as const, ...builtin };
  }
}

const caSchema = caFields.superRefine(checkCaKeys).transform(typedCa);

export type CaConfig = z.output<typeof caSchema>;

export const profileSchema = z.strictObject({
  validityDays: boundedInt(1, 3650).default(365),
  /** Absent = by key type: RSA digitalSignature + keyEncipherment, EC digitalSignature (RFC 5480 §3). */
  keyUsage: uniqueList(z.enum(KEY_USAGES)).optional(),
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
  // ---- directory enrichment (connector/issuance/enrichment) ----
  /** Name of an entry under `directories`: the user is looked up there; missing or disabled users are refused. */
  directory: z.string().min(1).optional(),
  /** Directory attribute (through the directory's attribute mapping) the user is found by. */
  lookupBy: z.enum(['upn', 'mail', 'sAMAccountName']).default('upn'),
  /** Where the lookup value comes from: the challenge's userId claim, or the CSR (only as trusted as its challenge). */
  lookupFrom: z.enum(LOOKUP_SOURCES).default('challenge'),
  /** Where {{DeviceId}} comes from. */
  deviceIdFrom: z.enum(DEVICE_ID_SOURCES).default('challenge'),
  /** RFC 4514 subject with Intune variables, e.g. "CN={{UserPrincipalName}},O=Example"; absent = the CSR's subject. */
  subjectTemplate: templateText(compileSubjectTemplate).optional(),
  /** SANs with Intune variables; absent = the CSR's SANs. */
  sanTemplates: z
    .array(
      z
        .strictObject({
          type: z.enum(SAN_TEMPLATE_TYPES),
          value: z.string().min(1),
          /** Leave this SAN out when a variable has no value instead of refusing the request. */
          optional: z.boolean().default(false),
        })
        .superRefine((san, ctx) => templateIssue(() => compileSanTemplate(san), ctx, san.value, ['value'])),
    )
    .max(16)
    .optional(),
  /** KB5014754 strong mapping: SID extension, SAN URI tag:microsoft.com,2022-09-14:sid:…, both or none. */
  sidMapping: z.enum(SID_MAPPINGS).default('none'),
});

/** A template that `compile` accepts; its config error becomes the validation message. */
function templateText(compile: (text: string) => unknown) {
  return z.string().superRefine((text, ctx) => templateIssue(() => compile(text), ctx, text, []));
}

function templateIssue(compile: () => unknown, ctx: z.RefinementCtx, input: string, path: string[]): void {
  try {
    compile();
  } catch (e) {
    // OutpostError text is "<reason>: <detail>"; the detail repeats the template, which the line shows.
    const reason = e instanceof OutpostError ? e.clientMessage : String(e);
    ctx.addIssue({ code: 'custom', path, input, message: `expected a valid template (${reason})` });
  }
}

type ProfileConfig = z.output<typeof profileSchema>;

/** Enrichment keys only make sense with a directory; manual approval loses the challenge's claims. */
function checkEnrichment(profile: ProfileConfig, ctx: z.RefinementCtx): void {
  if (profile.directory === undefined) {
    for (const key of ['subjectTemplate', 'sanTemplates'] as const) {
      if (profile[key] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          input: profile[key],
          message: `expected no ${key} without directory (the values come from a directory)`,
        });
      }
    }
    if (profile.sidMapping !== 'none') {
      ctx.addIssue({
        code: 'custom',
        path: ['sidMapping'],
        input: profile.sidMapping,
        message: 'expected none without directory (the SID is read from a directory)',
      });
    }
    return;
  }
  if (profile.approval !== 'manual') return;
  if (profile.lookupFrom === 'challenge') {
    ctx.addIssue({
      code: 'custom',
      path: ['lookupFrom'],
      input: profile.lookupFrom,
      message:
        'expected subjectCN, sanUpn or sanEmail with approval manual (a parked request keeps only its CSR, not the challenge)',
    });
  }
  if (profile.deviceIdFrom === 'challenge' && usesDeviceId(profile)) {
    ctx.addIssue({
      code: 'custom',
      path: ['deviceIdFrom'],
      input: profile.deviceIdFrom,
      message:
        'expected subjectCN or subjectSerialNumber with approval manual (a parked request keeps only its CSR)',
    });
  }
}

function usesDeviceId(profile: ProfileConfig): boolean {
  const texts = [profile.subjectTemplate, ...(profile.sanTemplates ?? []).map((s) => s.value)];
  return texts.some((t) => t !== undefined && templateVariables(parseTemplate(t)).includes('DeviceId'));
}

const PROFILE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const connectorSchema = z
  .strictObject({
    scep: section(scepSchema),
    ca: section(caSchema),
    profiles: z
      .record(
        z.string().regex(PROFILE_NAME, { message: 'expected a profile name of letters, digits, _ or -' }),
        section(profileSchema.superRefine(checkEnrichment)),
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
