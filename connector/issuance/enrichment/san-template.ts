import type { SubjectAltNames } from '../../../certs/csr.js';
import { emptySans } from '../../../certs/sans.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { missingVariable, parseTemplate, renderTemplate, type Template } from './template.js';
import type { TemplateValues } from './variables.js';

/** The SAN kinds a template can produce (an IP address never comes from a directory). */
export const SAN_TEMPLATE_TYPES = ['dns', 'email', 'uri', 'upn'] as const;
export type SanTemplateType = (typeof SAN_TEMPLATE_TYPES)[number];

export interface SanTemplateConfig {
  type: SanTemplateType;
  /** e.g. "{{UserPrincipalName}}" or "ldap:///{{OnPrem_Distinguished_Name}}". */
  value: string;
  /** Leave this SAN out when a variable has no value, instead of refusing the request. */
  optional?: boolean;
}

export interface SanTemplate {
  type: SanTemplateType;
  template: Template;
  optional: boolean;
}

/**
 * IA5String values we write: printable ASCII. Host names and mailboxes have no spaces; a URI
 * keeps a raw DN's spaces ("ldap:///CN=Smith, John,…") because the template asked for it raw.
 * Control characters never go into a certificate.
 */
const IA5_PRINTABLE: Readonly<Record<Exclude<SanTemplateType, 'upn'>, RegExp>> = {
  dns: /^[\x21-\x7e]+$/,
  email: /^[\x21-\x7e]+$/,
  uri: /^[\x20-\x7e]+$/,
};

/** RFC 5280 §4.2.1.6 puts no bound on a name; we do (DESIGN rule 4). */
const MAX_SAN_CHARS = 1024;

export function compileSanTemplate(config: SanTemplateConfig): SanTemplate {
  return { type: config.type, template: parseTemplate(config.value), optional: config.optional ?? false };
}

/**
 * SANs for these values. Values go in raw (a SAN is not a DN: a DN inserted into a URI keeps its
 * commas). dNSName, rfc822Name and URI are IA5String, so a non-ASCII value is refused rather than
 * mangled; an otherName UPN is UTF8String and takes any text.
 */
export function renderSans(templates: readonly SanTemplate[], values: TemplateValues): SubjectAltNames {
  const sans = emptySans();
  for (const t of templates) {
    if (t.optional && missingVariable(t.template, values)) continue;
    const value = renderTemplate(t.template, values);
    if (value.length === 0 || value.length > MAX_SAN_CHARS) throw sanRefused(t, 'empty or too long');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    if (t.type === 'upn' && /[\x00-\x1f\x7f]/.test(value)) throw sanRefused(t, 'not printable');
    if (t.type !== 'upn' && !IA5_PRINTABLE[t.type].test(value)) {
      throw sanRefused(t, t.type === 'uri' ? 'not printable ASCII' : 'not printable ASCII without spaces');
    }
    if (!sans[t.type].includes(value)) sans[t.type].push(value);
  }
  return sans;
}

function sanRefused(t: SanTemplate, why: string): OutpostError {
  return new OutpostError(ErrorCodes.badRequest, `the directory value for the ${t.type} SAN is ${why}`, {
    detail: JSON.stringify(t.template.source),
  });
}
