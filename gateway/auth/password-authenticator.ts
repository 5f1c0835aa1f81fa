import { ErrorCodes, isOutpostError } from '../../core/errors.js';
import { type AuthResult, authFailure } from './auth-result.js';
import type { Directory } from './directory.js';

export interface PasswordAuthenticatorOptions {
  /** When set, the account must be in at least one of these groups (compared case-insensitively). */
  allowedGroups?: string[];
}

/** Username + password (the CSTP XML auth form) checked against a directory. */
export class PasswordAuthenticator {
  private readonly allowed: Set<string> | undefined;

  constructor(
    private readonly directory: Directory,
    options: PasswordAuthenticatorOptions = {},
  ) {
    this.allowed = options.allowedGroups?.length
      ? new Set(options.allowedGroups.map((g) => g.toLowerCase()))
      : undefined;
  }

  /** Throws OutpostError unauthorized (client-safe message) or unavailable (directory down; retry). */
  async authenticate(username: string, password: string): Promise<AuthResult> {
    let account: Awaited<ReturnType<Directory['authenticate']>>;
    try {
      account = await this.directory.authenticate(username, password);
    } catch (e) {
      if (isOutpostError(e) && e.code === ErrorCodes.unavailable) throw e;
      throw authFailure('password', isOutpostError(e) ? e.message : `directory error for ${username}`, e);
    }
    if (this.allowed && !account.groups.some((g) => this.allowed!.has(g.toLowerCase()))) {
      // Same client message as a wrong password: group membership is not the client's business.
      throw authFailure('password', `${account.username} is in none of the allowed groups`);
    }
    return { username: account.username, groups: account.groups, method: 'password' };
  }
}
