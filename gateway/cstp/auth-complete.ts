import { escapeXmlText } from './xml-escape.js';

export interface AuthCompleteParams {
  message?: string;
  /**
   * The session cookie in the body as well: openconnect takes <session-token> as its cookie
   * (auth.c parse_xml_response), AnyConnect clients expect it there. Without it, clients use the
   * webvpn Set-Cookie alone, which is all ocserv sends.
   */
  sessionToken?: string;
  /** Shown by the client after login (ocserv's "banner"). */
  banner?: string;
}

/**
 * The config-auth "complete" document, byte for byte in ocserv's shape (worker-auth.c
 * oc_success_msg_head + banner + OC_SUCCESS_MSG_FOOT; 189 bytes in the transcript).
 */
export function buildAuthComplete(params: AuthCompleteParams = {}): string {
  let xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<config-auth client="vpn" type="complete">\n' +
    '<version who="sg">0.1(1)</version>\n' +
    '<auth id="success">\n' +
    '<title>SSL VPN Service</title>';
  if (params.message !== undefined) xml += `<message>${escapeXmlText(params.message)}</message>`;
  if (params.banner !== undefined) xml += `<banner>${escapeXmlText(params.banner)}</banner>`;
  xml += '</auth>';
  if (params.sessionToken !== undefined)
    xml += `<session-token>${escapeXmlText(params.sessionToken)}</session-token>`;
  return `${xml}</config-auth>\n`;
}
