/** A directory account as both roles see it; binary attributes are already decoded to text. */
export interface DirectoryUser {
  dn: string;
  /** The value of the configured username attribute, as stored in the directory. */
  username: string;
  /** Group CNs (or DNs when `groups.name` is 'dn'), de-duplicated, at most `sizeLimit`. */
  groups: string[];
  /** Requested attributes by their lower-case name; objectSid → "S-1-5-…", objectGUID → registry form. */
  attributes: Record<string, string[]>;
}

/** Attributes a user can be looked up by; 'upn' is AD's userPrincipalName. */
export type LookupKey = 'upn' | 'mail' | 'sAMAccountName' | 'uid';

export const LOOKUP_ATTRIBUTE: Readonly<Record<LookupKey, string>> = {
  upn: 'userPrincipalName',
  mail: 'mail',
  sAMAccountName: 'sAMAccountName',
  uid: 'uid',
};
