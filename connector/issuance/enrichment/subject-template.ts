import type { DistinguishedName } from '../../../certs/csr.js';
import { escapeValue, parseDn } from '../../../certs/name.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { parseTemplate, renderTemplate, type Template } from './template.js';
import { TEMPLATE_VARIABLES, type TemplateValues } from './variables.js';

/**
 * A sample value full of RFC 4514 specials: rendering the template with it at config time proves
 * that every variable sits inside an attribute value (after '='), where escaping protects it, and
 * that the attribute types are ones we can encode.
 */
const PROBE_VALUE = '#probe, "a+b" <c>;d\\e ';

/**
 * An RFC 4514 subject template such as "CN={{UserPrincipalName}},OU=Staff,O=Example". Throws a
 * config error when it is not a DN once filled in, or uses a variable outside a value.
 */
export function compileSubjectTemplate(text: string): Template {
  const template = parseTemplate(text);
  const probe = Object.fromEntries(TEMPLATE_VARIABLES.map((v) => [v, PROBE_VALUE])) as TemplateValues;
  let dn: DistinguishedName;
  try {
    dn = parseDn(renderTemplate(template, probe, escapeDnValue));
  } catch (e) {
    throw new OutpostError(ErrorCodes.config, 'subject template is not an RFC 4514 distinguished name', {
      detail: `${JSON.stringify(text)}: ${e instanceof Error ? e.message : String(e)}`,
      cause: e,
    });
  }
  if (dn.rdns.length === 0) {
    throw new OutpostError(ErrorCodes.config, 'subject template is empty', { detail: JSON.stringify(text) });
  }
  return template;
}

/**
 * RFC 4514 §2.4 escaping of one value: the specials `"+,;<>\` anywhere, '#' and space at the
 * start, space at the end, NUL as \00. A directory value (a DN with commas, "Smith, John+Admin")
 * therefore stays one attribute value instead of splitting the subject.
 */
export function escapeDnValue(value: string): string {
  return escapeValue(value);
}

/**
 * The subject for these values. The values are escaped, so parsing only fails when a value cannot
 * be encoded for its attribute (e.g. non-ASCII in an emailAddress or a non-printable country).
 */
export function renderSubject(template: Template, values: TemplateValues): DistinguishedName {
  const text = renderTemplate(template, values, escapeDnValue);
  try {
    return parseDn(text);
  } catch (e) {
    throw new OutpostError(
      ErrorCodes.badRequest,
      'the directory values cannot be encoded in the certificate subject',
      { detail: e instanceof Error ? e.message : String(e), cause: e },
    );
  }
}
