import { DecodeError } from '../../core/errors.js';
import { readXml, type XmlElement, type XmlLimits } from './xml-reader.js';

/**
 * What an AnyConnect-protocol client POSTs during XML auth, as openconnect builds it
 * (auth.c xmlpost_new_query / xmlpost_initial_req / xmlpost_append_form_opts; transcript A-C):
 *
 *   <config-auth client="vpn" type="init" aggregate-auth-version="2">
 *     <version who="vpn">v9.01-3</version>
 *     <device-id [platform-version= device-type= unique-id=]>linux-64</device-id>
 *     <capabilities><auth-method>…</auth-method>…</capabilities>
 *     <group-access>https://10.200.1.1/</group-access> [<group-select>…</group-select>]
 *   </config-auth>
 *
 *   type="auth-reply": same head, the server's <opaque> echoed verbatim, optional <group-select>
 *   (from the form's group_list), and <auth> with one child element per form field
 *   (<username>, <password>, …; openconnect renames answer/new_password to <password>).
 */
export interface DeviceIdentity {
  /** Text of <device-id>: openconnect's platform name (linux-64, apple-ios, android, win, mac-intel). */
  platform: string;
  platformVersion?: string;
  deviceType?: string;
  uniqueId?: string;
}

interface ConfigAuthCommon {
  /** <version who="vpn">: the client's version string. */
  clientVersion?: string;
  deviceId?: DeviceIdentity;
  /** <group-select>: the group chosen from our <select name="group_list">. */
  groupSelect?: string;
  /** <capabilities><auth-method>…: e.g. single-sign-on-v2. */
  authMethods: string[];
  /** Children of the <opaque> we sent, echoed back (name → text). */
  opaque?: Record<string, string>;
}

export interface ConfigAuthInit extends ConfigAuthCommon {
  type: 'init';
  /** <group-access>: the URL the user typed (may carry a group path). */
  groupAccess?: string;
}

export interface ConfigAuthReply extends ConfigAuthCommon {
  type: 'auth-reply';
  auth: {
    username?: string;
    password?: string;
    /** Every other field under <auth>, by element name (e.g. secondary_password). */
    fields: Record<string, string>;
  };
}

export type ConfigAuthMessage = ConfigAuthInit | ConfigAuthReply;

export type ConfigAuthLimits = XmlLimits;

/** Parses a client's config-auth body. Throws only DecodeError. */
export function parseConfigAuth(xml: string, limits: ConfigAuthLimits): ConfigAuthMessage {
  const root = readXml(xml, limits);
  if (root.name !== 'config-auth') throw new DecodeError(`expected <config-auth>, got <${root.name}>`);
  const type = root.attributes.get('type');
  if (type !== 'init' && type !== 'auth-reply') throw new DecodeError('unsupported config-auth type');

  const children = uniqueChildren(root, [
    'version',
    'device-id',
    'group-select',
    'group-access',
    'auth',
    'opaque',
  ]);
  const common: ConfigAuthCommon = { authMethods: authMethods(root) };
  const version = children.get('version');
  if (version) common.clientVersion = leafText(version).trim();
  const deviceId = children.get('device-id');
  if (deviceId) common.deviceId = deviceIdentity(deviceId);
  const groupSelect = children.get('group-select');
  if (groupSelect) common.groupSelect = leafText(groupSelect).trim();
  const opaque = children.get('opaque');
  if (opaque) common.opaque = leafFields(opaque);

  if (type === 'init') {
    const message: ConfigAuthInit = { type, ...common };
    const groupAccess = children.get('group-access');
    if (groupAccess) message.groupAccess = leafText(groupAccess).trim();
    return message;
  }
  const authElement = children.get('auth');
  if (!authElement) throw new DecodeError('auth-reply without <auth>');
  const fields = leafFields(authElement);
  const auth: ConfigAuthReply['auth'] = { fields };
  // Read the two well-known fields out; the rest stays in `fields`.
  if (Object.hasOwn(fields, 'username')) {
    auth.username = fields.username!;
    delete fields.username;
  }
  if (Object.hasOwn(fields, 'password')) {
    auth.password = fields.password!;
    delete fields.password;
  }
  return { type, ...common, auth };
}

/** The named children, refusing a repeated one: two <username>s must not mean "whichever wins". */
function uniqueChildren(parent: XmlElement, names: string[]): Map<string, XmlElement> {
  const found = new Map<string, XmlElement>();
  for (const child of parent.children) {
    if (!names.includes(child.name)) continue;
    if (found.has(child.name)) throw new DecodeError(`more than one <${child.name}>`);
    found.set(child.name, child);
  }
  return found;
}

function leafText(element: XmlElement): string {
  if (element.children.length > 0) throw new DecodeError(`<${element.name}> must contain only text`);
  return element.text;
}

/** Flat name → text for an element whose children are all text-only and distinct. */
function leafFields(element: XmlElement): Record<string, string> {
  const fields: Record<string, string> = Object.create(null);
  for (const child of element.children) {
    if (Object.hasOwn(fields, child.name))
      throw new DecodeError(`more than one <${child.name}> in <${element.name}>`);
    fields[child.name] = leafText(child);
  }
  return fields;
}

function deviceIdentity(element: XmlElement): DeviceIdentity {
  const identity: DeviceIdentity = { platform: leafText(element).trim() };
  const platformVersion = element.attributes.get('platform-version');
  if (platformVersion) identity.platformVersion = platformVersion;
  const deviceType = element.attributes.get('device-type');
  if (deviceType) identity.deviceType = deviceType;
  const uniqueId = element.attributes.get('unique-id');
  if (uniqueId) identity.uniqueId = uniqueId;
  return identity;
}

function authMethods(root: XmlElement): string[] {
  const capabilities = root.children.filter((c) => c.name === 'capabilities');
  if (capabilities.length > 1) throw new DecodeError('more than one <capabilities>');
  return (capabilities[0]?.children ?? [])
    .filter((c) => c.name === 'auth-method')
    .map((c) => leafText(c).trim());
}
