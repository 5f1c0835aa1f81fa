/**
 * Where the identity attributes live in a given directory. The keys are the Active Directory
 * attribute names (what certificate templates and Intune variables are defined over); the values
 * are the attribute names in this directory. A preset fills them in per schema; the config file
 * may override each one.
 */
export interface AttributeMapping {
  userPrincipalName: string;
  mail: string;
  sAMAccountName: string;
  /** Binary (AD objectSid) or text ("S-1-5-…", e.g. Samba's sambaSID); both are read. */
  objectSid: string;
  /** AD userAccountControl: bit 0x2 (ACCOUNTDISABLE, MS-ADTS §2.2.16) marks a disabled account. null = no check. */
  userAccountControl: string | null;
  /**
   * A flag attribute for directories without userAccountControl: the account is disabled when the
   * attribute has one of `values` (case-insensitive), or, with no values, when it is present at all
   * (e.g. ppolicy's pwdAccountLockedTime). null = no check.
   */
  disabled: { attribute: string; values: string[] } | null;
}

export type DirectorySchemaName = 'activeDirectory' | 'openldap';

export const ATTRIBUTE_PRESETS: Readonly<Record<DirectorySchemaName, Readonly<AttributeMapping>>> = {
  activeDirectory: {
    userPrincipalName: 'userPrincipalName',
    mail: 'mail',
    sAMAccountName: 'sAMAccountName',
    objectSid: 'objectSid',
    userAccountControl: 'userAccountControl',
    disabled: null,
  },
  // OpenLDAP has no UPN or account name of its own: mail and uid play those parts; Samba-style
  // directories keep the SID as text in sambaSID. ppolicy (RFC draft behera) locks an account by
  // setting pwdAccountLockedTime.
  openldap: {
    userPrincipalName: 'mail',
    mail: 'mail',
    sAMAccountName: 'uid',
    objectSid: 'sambaSID',
    userAccountControl: null,
    disabled: { attribute: 'pwdAccountLockedTime', values: [] },
  },
};

/** The preset for `schema` with `overrides` applied key by key. */
export function attributeMapping(
  schema: DirectorySchemaName,
  overrides: Partial<AttributeMapping> = {},
): AttributeMapping {
  const preset = ATTRIBUTE_PRESETS[schema];
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return {
    ...preset,
    ...(preset.disabled ? { disabled: { ...preset.disabled, values: [...preset.disabled.values] } } : {}),
    ...defined,
  };
}

/** The attributes a search must return to fill a DirectoryIdentity. */
export function mappedAttributes(m: AttributeMapping): string[] {
  return [
    m.userPrincipalName,
    m.mail,
    m.sAMAccountName,
    m.objectSid,
    ...(m.userAccountControl ? [m.userAccountControl] : []),
    ...(m.disabled ? [m.disabled.attribute] : []),
  ];
}

/** MS-ADTS §2.2.16 userAccountControl flag ACCOUNTDISABLE (UF_ACCOUNTDISABLE). */
export const UF_ACCOUNTDISABLE = 0x2;

/**
 * Whether the mapped attributes mark the account disabled. userAccountControl is a signed 32-bit
 * decimal in AD (values above 2^31 are printed negative); anything that is not an integer is
 * treated as disabled, because a flag we cannot read must not let an account through.
 */
export function isDisabled(m: AttributeMapping, attributes: Record<string, string[]>): boolean {
  if (m.userAccountControl) {
    const uac = attributes[m.userAccountControl.toLowerCase()]?.[0];
    if (uac !== undefined) {
      if (!/^-?\d{1,10}$/.test(uac.trim())) return true;
      if ((Number(uac.trim()) & UF_ACCOUNTDISABLE) !== 0) return true;
    }
  }
  if (m.disabled) {
    const values = attributes[m.disabled.attribute.toLowerCase()];
    if (values !== undefined && values.length > 0) {
      if (m.disabled.values.length === 0) return true;
      const flagged = new Set(m.disabled.values.map((v) => v.toLowerCase()));
      if (values.some((v) => flagged.has(v.trim().toLowerCase()))) return true;
    }
  }
  return false;
}
