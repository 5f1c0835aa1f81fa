import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ApplianceRole } from '../../link/schema/index.js';
import type { CloudDb } from './cloud-db.js';

export interface NewEnrollmentToken {
  id: string;
  /** `<id>.<secret>`: shown once, only its SHA-256 is stored. */
  token: string;
  expiresAt: Date;
}

interface TokenRow {
  secret_hash: Buffer;
  roles: string | null;
  site: string | null;
  expires_at: number;
  used_at: number | null;
}

const MAX_TOKEN_LENGTH = 256;

function hash(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** One-time enrollment tokens: created by an admin, redeemed once by `POST /v1/enroll`. */
export class EnrollmentTokens {
  constructor(private readonly db: CloudDb) {}

  /** `site`: the site the enrolled appliance joins (DEFAULT_SITE when absent). */
  create(
    ttlSeconds: number,
    roles: ApplianceRole[] | undefined,
    site: string | undefined,
    now: Date,
  ): NewEnrollmentToken {
    const id = randomUUID();
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
    this.db
      .prepare(
        'INSERT INTO enrollment_tokens (id, secret_hash, roles, site, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        id,
        hash(secret),
        roles ? JSON.stringify(roles) : null,
        site ?? null,
        now.getTime(),
        expiresAt.getTime(),
      );
    return { id, token: `${id}.${secret}`, expiresAt };
  }

  /**
   * Marks the token used and returns the roles it allows (undefined = any) and the site it enrolls
   * into (undefined = the default site), or undefined when it is
   * unknown, wrong, expired or already used — one answer for all, so a caller learns nothing. The
   * secret is compared as SHA-256 digests in constant time. Call inside the enrollment transaction.
   */
  redeem(
    token: string,
    applianceId: string,
    now: Date,
  ): { allowedRoles: ApplianceRole[] | undefined; site: string | undefined } | undefined {
    if (token.length > MAX_TOKEN_LENGTH) return undefined;
    const dot = token.indexOf('.');
    const id = dot > 0 ? token.slice(0, dot) : '';
    const row = this.db
      .prepare('SELECT secret_hash, roles, site, expires_at, used_at FROM enrollment_tokens WHERE id = ?')
      .get(id) as TokenRow | undefined;
    // Hash and compare even when the id is unknown so the timing does not tell ids apart.
    const presented = hash(token.slice(dot + 1));
    const matches = timingSafeEqual(presented, row?.secret_hash ?? hash(`${presented.toString('hex')}!`));
    if (!row || !matches || row.used_at !== null || row.expires_at <= now.getTime()) return undefined;
    const claimed = this.db
      .prepare('UPDATE enrollment_tokens SET used_at = ?, appliance_id = ? WHERE id = ? AND used_at IS NULL')
      .run(now.getTime(), applianceId, id);
    if (claimed.changes !== 1) return undefined;
    return {
      allowedRoles: row.roles ? (JSON.parse(row.roles) as ApplianceRole[]) : undefined,
      site: row.site ?? undefined,
    };
  }
}
