import { type AttributeMapping, attributeMapping, type DirectorySchemaName } from './attribute-mapping.js';

/**
 * Settings of one LDAP / AD directory. The names match `directories.<name>` in the config file
 * (container/config/schema.ts); the keys it does not have yet are optional here with defaults.
 */
export interface LdapDirectoryConfig {
  /** ldap://host[:port] or ldaps://host[:port]. */
  url: string;
  /** ldap:// only: upgrade with StartTLS (RFC 4511 §4.14) before any bind. */
  startTls?: boolean;
  /** Service account that searches for users; null = anonymous searches. */
  bindDn?: string | null;
  /** File holding the service account's password (a mounted secret); read once. */
  bindPasswordFile?: string | null;
  baseDn: string;
  /** PEM CA bundle for ldaps:// and StartTLS; null = system roots. */
  ca?: string | null;
  /** Default for both timeouts below (the config file's single knob). */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  operationTimeoutMs?: number;
  /** Upper bound on entries per search and on groups per user (DESIGN rule 4). */
  sizeLimit?: number;
  /** Attribute the login name is matched against. */
  usernameAttribute?: 'sAMAccountName' | 'uid' | 'userPrincipalName' | 'mail';
  /** Extra RFC 4515 filter ANDed into user searches, e.g. "(objectClass=person)". */
  userFilter?: string;
  /** Attributes returned with a user (besides the username and group attributes). */
  attributes?: string[];
  groups?: GroupMembershipConfig;
  /** Attribute preset: Active Directory (default) or OpenLDAP (attribute-mapping.ts). */
  schema?: DirectorySchemaName;
  /** Per-attribute overrides of the preset. */
  attributeMapping?: Partial<AttributeMapping>;
  /** Page size of paged searches (RFC 2696); AD answers at most MaxPageSize (1000) per page. */
  pageSize?: number;
}

export type GroupMembershipConfig =
  /** Read the user's `memberOf` (AD; OpenLDAP with the memberof overlay). */
  | { from: 'memberOf'; name?: 'cn' | 'dn' }
  /** Search groups whose member attribute holds the user's DN (paged, RFC 2696). */
  | {
      from: 'search';
      name?: 'cn' | 'dn';
      baseDn?: string;
      /** Which entries are groups; default "(objectClass=groupOfNames)". */
      filter?: string;
      memberAttribute?: string;
      pageSize?: number;
    };

export interface LdapDirectorySettings {
  url: string;
  startTls: boolean;
  bindDn: string | null;
  baseDn: string;
  ca: string | null;
  connectTimeoutMs: number;
  operationTimeoutMs: number;
  sizeLimit: number;
  usernameAttribute: NonNullable<LdapDirectoryConfig['usernameAttribute']>;
  userFilter: string;
  attributes: string[];
  mapping: AttributeMapping;
  groups:
    | Required<Extract<GroupMembershipConfig, { from: 'search' }>>
    | { from: 'memberOf'; name: 'cn' | 'dn' };
}

export const DEFAULT_USER_ATTRIBUTES = [
  'cn',
  'displayName',
  'mail',
  'uid',
  'sAMAccountName',
  'userPrincipalName',
  'objectSid',
  'objectGUID',
];

/** Fills in defaults; the config schema has already checked types and ranges. */
export function ldapDirectorySettings(config: LdapDirectoryConfig): LdapDirectorySettings {
  const url = new URL(config.url);
  if (url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') {
    throw new Error(`directory url must be ldap:// or ldaps://, got ${url.protocol}`);
  }
  const timeout = config.timeoutMs ?? 10_000;
  const sizeLimit = config.sizeLimit ?? 1000;
  const groups = config.groups ?? { from: 'memberOf' };
  return {
    url: config.url,
    // StartTLS on top of ldaps:// is meaningless (RFC 4513 §3.1.1 forbids a second TLS layer).
    startTls: (config.startTls ?? false) && url.protocol === 'ldap:',
    bindDn: config.bindDn ?? null,
    baseDn: config.baseDn,
    ca: config.ca ?? null,
    connectTimeoutMs: config.connectTimeoutMs ?? timeout,
    operationTimeoutMs: config.operationTimeoutMs ?? timeout,
    sizeLimit,
    usernameAttribute: config.usernameAttribute ?? 'sAMAccountName',
    userFilter: config.userFilter ?? '',
    attributes: config.attributes ?? DEFAULT_USER_ATTRIBUTES,
    mapping: attributeMapping(config.schema ?? 'activeDirectory', config.attributeMapping),
    groups:
      groups.from === 'memberOf'
        ? { from: 'memberOf', name: groups.name ?? 'cn' }
        : {
            from: 'search',
            name: groups.name ?? 'cn',
            baseDn: groups.baseDn ?? config.baseDn,
            filter: groups.filter ?? '(objectClass=groupOfNames)',
            memberAttribute: groups.memberAttribute ?? 'member',
            pageSize: Math.min(groups.pageSize ?? config.pageSize ?? 200, sizeLimit),
          },
  };
}

/** A `directories.<name>` entry of the config file (container/config/schema.ts), as validated. */
export interface DirectoryConfigEntry {
  url: string;
  bindDn: string | null;
  bindPasswordFile: string | null;
  baseDn: string;
  startTls: boolean;
  ca: string | null;
  timeoutMs: number;
  sizeLimit: number;
  usernameAttribute: NonNullable<LdapDirectoryConfig['usernameAttribute']>;
  groupsFrom: 'memberOf' | 'search';
  schema: DirectorySchemaName;
  attributes: Partial<AttributeMapping>;
  pageSize: number;
}

/** The LdapDirectory settings for a config file entry: one mapping for both roles. */
export function directoryConfigFromEntry(entry: DirectoryConfigEntry): LdapDirectoryConfig {
  return {
    url: entry.url,
    startTls: entry.startTls,
    bindDn: entry.bindDn,
    bindPasswordFile: entry.bindPasswordFile,
    baseDn: entry.baseDn,
    ca: entry.ca,
    timeoutMs: entry.timeoutMs,
    sizeLimit: entry.sizeLimit,
    usernameAttribute: entry.usernameAttribute,
    groups: { from: entry.groupsFrom },
    schema: entry.schema,
    attributeMapping: entry.attributes,
    pageSize: entry.pageSize,
  };
}
