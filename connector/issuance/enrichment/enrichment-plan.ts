import type { SubjectAltNames } from '../../../certs/csr.js';
import type { ParsedCertificate } from '../../../certs/parsed-certificate.js';
import { sidFromUri } from '../../../certs/sid-extension.js';
import type { AccountIdentity, EnrichedIssue, LookupBy } from './ports.js';
import type { DeviceIdSource, LookupSource } from './request-values.js';
import { compileSanTemplate, renderSans, type SanTemplate, type SanTemplateConfig } from './san-template.js';
import { type SidMapping, sidArtifacts } from './sid-mapping.js';
import { compileSubjectTemplate, renderSubject } from './subject-template.js';
import type { Template } from './template.js';
import type { TemplateValues } from './variables.js';

/** A profile's enrichment settings as the config file writes them (profiles.<name>). */
export interface EnrichmentConfig {
  /** Name of an entry under `directories`. */
  directory: string;
  lookupBy: LookupBy;
  lookupFrom: LookupSource;
  deviceIdFrom: DeviceIdSource;
  /** RFC 4514 with variables; absent = the CSR's subject. */
  subjectTemplate?: string | undefined;
  /** absent = the CSR's SANs. */
  sanTemplates?: SanTemplateConfig[] | undefined;
  sidMapping: SidMapping;
}

/** The same, with templates parsed and checked once at startup. */
export interface EnrichmentPlan {
  directory: string;
  lookupBy: LookupBy;
  lookupFrom: LookupSource;
  deviceIdFrom: DeviceIdSource;
  subject?: Template;
  sans?: SanTemplate[];
  sidMapping: SidMapping;
}

/** Throws OutpostError `config` for a template that is not valid or uses an unknown variable. */
export function compileEnrichment(config: EnrichmentConfig): EnrichmentPlan {
  return {
    directory: config.directory,
    lookupBy: config.lookupBy,
    lookupFrom: config.lookupFrom,
    deviceIdFrom: config.deviceIdFrom,
    ...(config.subjectTemplate !== undefined
      ? { subject: compileSubjectTemplate(config.subjectTemplate) }
      : {}),
    ...(config.sanTemplates !== undefined ? { sans: config.sanTemplates.map(compileSanTemplate) } : {}),
    sidMapping: config.sidMapping,
  };
}

/** The variables as Intune defines them, from the account and the request. */
export function templateValues(account: AccountIdentity, deviceId: string | undefined): TemplateValues {
  return {
    OnPrem_Distinguished_Name: account.dn,
    ...(account.userPrincipalName !== undefined ? { UserPrincipalName: account.userPrincipalName } : {}),
    ...(account.mail !== undefined ? { EmailAddress: account.mail } : {}),
    ...(account.sAMAccountName !== undefined ? { onPremisesSamAccountName: account.sAMAccountName } : {}),
    ...(account.objectSid !== undefined ? { OnPremisesSecurityIdentifier: account.objectSid } : {}),
    ...(deviceId !== undefined ? { DeviceId: deviceId } : {}),
  };
}

/**
 * Pure: what to issue for `account`. The subject and SANs come from the templates when the profile
 * has them, otherwise from the CSR (already checked by the CSR policy); the SID URI is added to
 * the SANs and the SID extension to the extensions as the profile's sidMapping says.
 */
export function renderEnrichment(
  plan: EnrichmentPlan,
  account: AccountIdentity,
  request: { csrSans: SubjectAltNames; deviceId: string | undefined },
): EnrichedIssue {
  const values = templateValues(account, request.deviceId);
  const sid = sidArtifacts(plan.sidMapping, account.objectSid, account.dn);
  const sans = plan.sans ? renderSans(plan.sans, values) : cloneSans(request.csrSans);
  if (sid.uri && !sans.uri.includes(sid.uri)) sans.uri.push(sid.uri);
  return {
    account,
    ...(plan.subject ? { subject: renderSubject(plan.subject, values) } : {}),
    sans,
    extraExtensions: sid.extension ? [sid.extension] : [],
  };
}

/**
 * Pure: what to issue when `previous` is renewed for `account` (found again, enabled). The
 * certificate keeps its subject and SANs, the identity it was issued for; the request carries
 * no challenge, so values that came from one (DeviceId) could not be rendered again. The SID
 * mapping is written afresh from the account.
 */
export function renewEnrichment(
  plan: EnrichmentPlan,
  account: AccountIdentity,
  previous: ParsedCertificate,
): EnrichedIssue {
  const sid = sidArtifacts(plan.sidMapping, account.objectSid, account.dn);
  const sans = cloneSans(previous.sans);
  sans.uri = sans.uri.filter((uri) => !isSidUri(uri));
  if (sid.uri) sans.uri.push(sid.uri);
  return {
    account,
    subject: previous.subject,
    sans,
    extraExtensions: sid.extension ? [sid.extension] : [],
  };
}

function isSidUri(uri: string): boolean {
  try {
    return sidFromUri(uri) !== undefined;
  } catch {
    return true; // a malformed mapping URI is dropped too, never carried forward
  }
}

function cloneSans(s: SubjectAltNames): SubjectAltNames {
  return { dns: [...s.dns], email: [...s.email], uri: [...s.uri], ip: [...s.ip], upn: [...s.upn] };
}
