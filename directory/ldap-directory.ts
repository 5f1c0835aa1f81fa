import { readFile } from 'node:fs/promises';
import {
  AndFilter,
  type Client,
  type Entry,
  EqualityFilter,
  type Filter,
  FilterParser,
  SizeLimitExceededError,
} from 'ldapts';
import { ErrorCodes, OutpostError } from '../core/errors.js';
import { isDisabled, mappedAttributes } from './attribute-mapping.js';
import {
  accountDisabled,
  accountNotFound,
  badCredentials,
  serviceFailure,
  userBindFailure,
} from './directory-errors.js';
import {
  type DirectoryIdentity,
  type IdentityKey,
  identityAttribute,
  identityFromEntry,
} from './directory-identity.js';
import type { DirectoryUser, LookupKey } from './directory-user.js';
import { BINARY_ATTRIBUTES, entryAttributes } from './entry-attributes.js';
import { escapeFilterValue } from './filter-escape.js';
import { groupCnFromDn } from './group-name.js';
import { connectLdap } from './ldap-connect.js';
import {
  type LdapDirectoryConfig,
  type LdapDirectorySettings,
  ldapDirectorySettings,
} from './ldap-directory-config.js';
import { encodeObjectSid } from './object-sid.js';
import { ServiceConnection } from './service-connection.js';

/** Longer names or passwords are not something a person types; refuse them before any I/O. */
const MAX_USERNAME_CHARS = 256;
const MAX_PASSWORD_CHARS = 1024;

/**
 * LDAP / Active Directory client shared by the gateway (password logins) and the connector
 * (enrichment): a reused service-account connection finds entries, and each login is proven by a
 * bind as the user on a fresh connection (so the service connection never changes identity).
 */
export class LdapDirectory {
  readonly settings: LdapDirectorySettings;
  // ES private fields: invisible to util.inspect, JSON.stringify and loggers (DESIGN rule 6).
  readonly #bindPassword: string | null;
  readonly #caPem: string | null;
  readonly #service: ServiceConnection;
  /** Parsed once: ANDed into every user search. */
  readonly #userFilter: Filter | undefined;

  /** Reads the bind password and CA files once; nothing else reads them later. */
  static async open(config: LdapDirectoryConfig): Promise<LdapDirectory> {
    const password = config.bindPasswordFile
      ? secretFromFile(await readFile(config.bindPasswordFile, 'utf8'))
      : null;
    const caPem = config.ca ? await readFile(config.ca, 'utf8') : null;
    return new LdapDirectory(ldapDirectorySettings(config), { bindPassword: password, caPem });
  }

  constructor(
    settings: LdapDirectorySettings,
    secrets: { bindPassword: string | null; caPem: string | null },
  ) {
    assertFilter(settings.userFilter, 'userFilter');
    if (settings.groups.from === 'search') assertFilter(settings.groups.filter, 'groups.filter');
    this.settings = settings;
    this.#bindPassword = secrets.bindPassword;
    this.#caPem = secrets.caPem;
    this.#service = new ServiceConnection((onClose) => this.openServiceClient(onClose));
    this.#userFilter = settings.userFilter ? FilterParser.parseString(settings.userFilter) : undefined;
  }

  /**
   * Finds the user with the service account, then binds as the user with `password` (RFC 4513
   * §5.1.3) and reads the groups. Every credential problem throws the same unauthorized error;
   * a directory that cannot be reached or times out throws unavailable.
   */
  async authenticate(username: string, password: string): Promise<DirectoryUser> {
    if (username.length === 0 || username.length > MAX_USERNAME_CHARS) {
      throw badCredentials('username empty or too long');
    }
    // RFC 4513 §5.1.2: a simple bind with a name and an empty password is an *unauthenticated*
    // bind, which many servers answer with success. It must never count as a login.
    if (password.length === 0)
      throw badCredentials(`empty password for ${username} refused (RFC 4513 §5.1.2)`);
    if (password.length > MAX_PASSWORD_CHARS) throw badCredentials('password too long');

    const found = await this.findEntry(this.settings.usernameAttribute, username);
    const query = `${this.settings.usernameAttribute}=${username}`;
    if (found === 'none') throw badCredentials(`no entry with ${query}`);
    if (found === 'many') throw badCredentials(`more than one entry with ${query}`);
    // A disabled AD account cannot bind anyway (data 533); an OpenLDAP flag attribute only means
    // something if we check it. Same client message as every other credential failure.
    if (isDisabled(this.settings.mapping, entryAttributes(found, this.settings.sizeLimit))) {
      throw badCredentials(`${found.dn} is disabled`);
    }
    await this.bindAsUser(found.dn, password);
    return this.toUser(found, username);
  }

  /** The entry whose `by` attribute equals `value`, or undefined; throws conflict when several match. */
  async lookupUser(by: LookupKey, value: string): Promise<DirectoryUser | undefined> {
    if (value.length === 0 || value.length > MAX_USERNAME_CHARS) return undefined;
    const attribute = by === 'uid' ? 'uid' : identityAttribute(this.settings.mapping, by);
    const found = await this.findEntry(attribute, value);
    if (found === 'none') return undefined;
    if (found === 'many') {
      throw new OutpostError(ErrorCodes.conflict, 'more than one directory entry matches', {
        detail: `${attribute}=${value}`,
      });
    }
    return this.toUser(found, value);
  }

  /**
   * The account whose `by` attribute (through the attribute mapping) equals `value`, for the
   * connector's enrichment. Throws OutpostError `unauthorized` with a clear reason when no entry
   * or several match or the account is disabled (final), `unavailable` when the directory cannot
   * answer in time (retryable).
   */
  async findIdentity(by: IdentityKey, value: string): Promise<DirectoryIdentity> {
    const attribute = identityAttribute(this.settings.mapping, by);
    const query = `${attribute}=${value}`;
    if (value.length === 0 || value.length > MAX_USERNAME_CHARS) {
      throw accountNotFound(`lookup value empty or too long (${attribute})`);
    }
    const found = await this.findEntry(attribute, by === 'objectSid' ? this.sidFilterValue(value) : value);
    if (found === 'none') throw accountNotFound(`no entry with ${query} under ${this.settings.baseDn}`);
    if (found === 'many') throw accountNotFound(`more than one entry with ${query}`);
    const attributes = entryAttributes(found, this.settings.sizeLimit);
    if (isDisabled(this.settings.mapping, attributes)) throw accountDisabled(`${found.dn} (${query})`);
    return identityFromEntry(found, attributes, this.settings.mapping);
  }

  /** AD stores objectSid as bytes (matched as such); text SID attributes (sambaSID) as text. */
  private sidFilterValue(sid: string): Buffer | string {
    if (this.settings.mapping.objectSid.toLowerCase() !== 'objectsid') return sid;
    try {
      return encodeObjectSid(sid);
    } catch (e) {
      throw accountNotFound(`not a SID: ${sid}`, e);
    }
  }

  /** Closes the service connection; a later call opens a new one. */
  close(): Promise<void> {
    return this.#service.close();
  }

  private async openServiceClient(onClose: () => void): Promise<Client> {
    let client: Client | undefined;
    try {
      client = await connectLdap(this.settings, this.#caPem, onClose);
      if (this.settings.bindDn !== null) await client.bind(this.settings.bindDn, this.#bindPassword ?? '');
      return client;
    } catch (e) {
      if (client) void client.unbind().catch(() => undefined);
      throw serviceFailure(
        `service connection to ${this.settings.url} as ${this.settings.bindDn ?? 'anonymous'}`,
        e,
      );
    }
  }

  /**
   * Asks for at most two entries: one is the answer, two means the name is ambiguous. The value
   * goes into the filter as an octet string (no text escaping to get wrong); bytes for binary
   * attributes such as objectSid.
   */
  private async findEntry(attribute: string, value: string | Buffer): Promise<Entry | 'none' | 'many'> {
    const match = new EqualityFilter({ attribute, value });
    const filter = this.#userFilter ? new AndFilter({ filters: [match, this.#userFilter] }) : match;
    const mapping = this.settings.mapping;
    const attributes = [
      ...new Set([
        this.settings.usernameAttribute,
        ...this.settings.attributes,
        ...mappedAttributes(mapping),
        'memberOf',
      ]),
    ];
    // ldapts matches these names case-sensitively against what the server returns.
    const binary = [...new Set([...BINARY_ATTRIBUTES, mapping.objectSid, mapping.objectSid.toLowerCase()])];
    try {
      const entries = await this.#service.run(async (client) => {
        const result = await client.search(this.settings.baseDn, {
          scope: 'sub',
          filter,
          attributes,
          explicitBufferAttributes: binary,
          sizeLimit: 2,
          timeLimit: Math.ceil(this.settings.operationTimeoutMs / 1000),
        });
        return result.searchEntries;
      });
      if (entries.length > 1) return 'many';
      return entries[0] ?? 'none';
    } catch (e) {
      // sizeLimitExceeded (RFC 4511 §4.5.2): more than two matched, i.e. ambiguous.
      if (e instanceof SizeLimitExceededError) return 'many';
      throw serviceFailure(`search ${filter.toString()}`, e);
    }
  }

  /** A fresh connection per user bind: a failed or successful bind never touches the service identity. */
  private async bindAsUser(dn: string, password: string): Promise<void> {
    let client: Client | undefined;
    try {
      client = await connectLdap(this.settings, this.#caPem);
      await client.bind(dn, password);
    } catch (e) {
      throw userBindFailure(dn, e);
    } finally {
      if (client) void client.unbind().catch(() => undefined);
    }
  }

  private async toUser(entry: Entry, fallbackName: string): Promise<DirectoryUser> {
    const attributes = entryAttributes(entry, this.settings.sizeLimit);
    const memberOf = attributes.memberof ?? [];
    const groupDns = this.settings.groups.from === 'memberOf' ? memberOf : await this.searchGroups(entry.dn);
    const groups = [...new Set(groupDns.map((dn) => this.groupName(dn)))].slice(0, this.settings.sizeLimit);
    if (this.settings.groups.from !== 'memberOf') delete attributes.memberof;
    return {
      dn: entry.dn,
      username: attributes[this.settings.usernameAttribute.toLowerCase()]?.[0] ?? fallbackName,
      groups,
      attributes,
    };
  }

  private groupName(dn: string): string {
    return this.settings.groups.name === 'dn' ? dn : (groupCnFromDn(dn) ?? dn);
  }

  /** Groups whose member attribute holds `userDn`, paged (RFC 2696) and capped at sizeLimit. */
  private async searchGroups(userDn: string): Promise<string[]> {
    const g = this.settings.groups;
    if (g.from !== 'search') return [];
    const filter = `(&${g.filter}(${g.memberAttribute}=${escapeFilterValue(userDn)}))`;
    try {
      return await this.#service.run(async (client) => {
        const dns: string[] = [];
        const pages = client.searchPaginated(g.baseDn, {
          scope: 'sub',
          filter,
          attributes: ['cn'],
          paged: { pageSize: g.pageSize },
        });
        for await (const page of pages) {
          for (const entry of page.searchEntries) dns.push(entry.dn);
          if (dns.length >= this.settings.sizeLimit) break; // DESIGN rule 4: bounded results
        }
        return dns.slice(0, this.settings.sizeLimit);
      });
    } catch (e) {
      throw serviceFailure(`group search ${filter}`, e);
    }
  }
}

/** Mounted secrets often end with a newline that is not part of the password. */
function secretFromFile(text: string): string {
  return text.replace(/\r?\n$/, '');
}

function assertFilter(filter: string, name: string): void {
  if (filter === '') return;
  try {
    FilterParser.parseString(filter);
  } catch (e) {
    throw new OutpostError(ErrorCodes.config, `directory ${name} is not an LDAP filter (RFC 4515)`, {
      cause: e,
      detail: filter,
    });
  }
}
