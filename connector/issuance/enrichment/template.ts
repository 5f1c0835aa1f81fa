import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import {
  TEMPLATE_VARIABLES,
  type TemplateValues,
  type TemplateVariable,
  templateVariable,
  VARIABLE_SOURCES,
} from './variables.js';

/** Templates are a line of config, not documents (DESIGN rule 4). */
export const MAX_TEMPLATE_CHARS = 1024;

/** A template split into literal text and `{{Variable}}` references. */
export interface Template {
  source: string;
  parts: Array<string | { variable: TemplateVariable }>;
}

function configError(message: string, source: string): OutpostError {
  return new OutpostError(ErrorCodes.config, message, { detail: JSON.stringify(source) });
}

/**
 * Parses `text` such as "CN={{UserPrincipalName}},O=Example". `{{` always opens a reference
 * (there is no escape for a literal "{{": no subject or SAN needs one); an unknown name or an
 * unclosed reference is a config error naming the variables that exist.
 */
export function parseTemplate(text: string): Template {
  if (text.length > MAX_TEMPLATE_CHARS) {
    throw configError(`template longer than ${MAX_TEMPLATE_CHARS} characters`, text.slice(0, 64));
  }
  const parts: Template['parts'] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('{{', at);
    if (open < 0) {
      parts.push(text.slice(at));
      break;
    }
    if (open > at) parts.push(text.slice(at, open));
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw configError(`unclosed "{{" at ${open}`, text);
    const name = text.slice(open + 2, close).trim();
    const variable = templateVariable(name);
    if (!variable) {
      throw configError(
        `unknown template variable {{${name}}} (known: ${TEMPLATE_VARIABLES.join(', ')})`,
        text,
      );
    }
    parts.push({ variable });
    at = close + 2;
  }
  return { source: text, parts };
}

/** The variables `template` refers to, each once. */
export function templateVariables(template: Template): TemplateVariable[] {
  const seen = new Set<TemplateVariable>();
  for (const p of template.parts) if (typeof p !== 'string') seen.add(p.variable);
  return [...seen];
}

/** The first variable of `template` without a (non-empty) value, if any. */
export function missingVariable(template: Template, values: TemplateValues): TemplateVariable | undefined {
  return templateVariables(template).find((v) => !values[v]);
}

/**
 * Fills in the values, each passed through `escapeValue` (RFC 4514 escaping for subjects, identity for
 * SANs). A variable without a value is refused: a certificate must not silently lose an identity.
 */
export function renderTemplate(
  template: Template,
  values: TemplateValues,
  escapeValue: (value: string) => string = (v) => v,
): string {
  const missing = missingVariable(template, values);
  if (missing) throw missingValue(missing);
  return template.parts.map((p) => (typeof p === 'string' ? p : escapeValue(values[p.variable]!))).join('');
}

export function missingValue(variable: TemplateVariable): OutpostError {
  return new OutpostError(
    ErrorCodes.badRequest,
    `no value for {{${variable}}}, which the certificate template needs`,
    { detail: `expected from ${VARIABLE_SOURCES[variable]}` },
  );
}
