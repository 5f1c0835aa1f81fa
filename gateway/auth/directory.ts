/**
 * What password authentication needs from a directory (DESIGN rule 3: the domain declares the
 * narrow interface, adapters implement it). directory/LdapDirectory satisfies it structurally.
 */
export interface Directory {
  /**
   * Verifies the password. Throws OutpostError `unauthorized` for any credential problem (one
   * client message for all, so accounts cannot be enumerated) and `unavailable` when the
   * directory cannot answer.
   */
  authenticate(username: string, password: string): Promise<DirectoryAccount>;
}

export interface DirectoryAccount {
  dn: string;
  username: string;
  groups: string[];
}
