import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { escapeXmlAttribute, escapeXmlText } from './xml-escape.js';

export interface AuthFormField {
  type: 'text' | 'password';
  /** Becomes the element name of the client's answer (<username>…): must be an XML name. */
  name: string;
  label: string;
}

export interface AuthRequestParams {
  /** <auth id>; ocserv always uses "main". */
  formId?: string;
  /** Form action; ocserv posts to /auth. */
  action?: string;
  message?: string;
  /** Shown by openconnect as an error above the form (auth.c parse_auth_node reads <error>). */
  error?: string;
  /** Shown before the form (ocserv's pre-login-banner). */
  banner?: string;
  fields: AuthFormField[];
  /** Offered as <select name="group_list">; the client answers with <group-select>. */
  groups?: string[];
  /** Listed first, as ocserv does: clients that send the group separately expect it on top. */
  selectedGroup?: string;
  /** Echoed back verbatim by the client in its auth-reply (auth.c xmlpost_append_form_opts). */
  opaque?: Record<string, string>;
}

const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/**
 * A config-auth auth-request, byte for byte in ocserv's shape (worker-auth.c OC_LOGIN_START,
 * OC_LOGIN_FORM_START, OC_LOGIN_FORM_INPUT_*, OC_LOGIN_END; transcript section A).
 */
export function buildAuthRequest(params: AuthRequestParams): string {
  let xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<config-auth client="vpn" type="auth-request">\n' +
    '<version who="sg">0.1(1)</version>\n' +
    `<auth id="${escapeXmlAttribute(params.formId ?? 'main')}">\n`;
  if (params.banner !== undefined) xml += `<banner>${escapeXmlText(params.banner)}</banner>`;
  if (params.message !== undefined) xml += `<message>${escapeXmlText(params.message)}</message>\n`;
  if (params.error !== undefined) xml += `<error>${escapeXmlText(params.error)}</error>\n`;
  xml += `<form method="post" action="${escapeXmlAttribute(params.action ?? '/auth')}">\n`;
  for (const field of params.fields) {
    xml += `<input type="${field.type}" name="${xmlName(field.name)}" label="${escapeXmlAttribute(field.label)}" />\n`;
  }
  const groups = orderedGroups(params.groups ?? [], params.selectedGroup);
  if (groups.length > 0) {
    xml += '<select name="group_list" label="Group:">\n';
    for (const group of groups) {
      xml += `<option value="${escapeXmlAttribute(group)}">${escapeXmlText(group)}</option>\n`;
    }
    xml += '</select>\n';
  }
  xml += '</form></auth>\n';
  if (params.opaque) {
    xml += '<opaque is-for="sg">\n';
    for (const [name, value] of Object.entries(params.opaque)) {
      xml += `<${xmlName(name)}>${escapeXmlText(value)}</${name}>\n`;
    }
    xml += '</opaque>\n';
  }
  return `${xml}</config-auth>`;
}

function orderedGroups(groups: string[], selected: string | undefined): string[] {
  if (selected === undefined || !groups.includes(selected)) return groups;
  return [selected, ...groups.filter((g) => g !== selected)];
}

function xmlName(name: string): string {
  if (!XML_NAME.test(name) || /^xml/i.test(name)) {
    throw new OutpostError(ErrorCodes.internal, 'internal error', {
      detail: `invalid XML element name ${JSON.stringify(name)}`,
    });
  }
  return name;
}
