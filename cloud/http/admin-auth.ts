import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { readIfExists, writeFileAtomic } from '../files.js';

export const ADMIN_TOKEN_FILE = 'admin-token';

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** DIR/admin-token (0600), created on first start: the bearer token of the admin API. */
export async function openAdminToken(dir: string): Promise<string> {
  const path = join(dir, ADMIN_TOKEN_FILE);
  const existing = (await readIfExists(path))?.toString().trim();
  if (existing) return existing;
  const token = randomBytes(32).toString('base64url');
  await writeFileAtomic(path, `${token}\n`, 0o600);
  return token;
}

/**
 * A fastify onRequest hook refusing requests without `Authorization: Bearer <admin token>`. Digests
 * are compared in constant time so the comparison leaks neither the token nor its length.
 */
export function adminGuard(token: string): (request: FastifyRequest) => Promise<void> {
  const expected = sha256(token);
  return async (request) => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer ([^\s]{1,512})$/.exec(header);
    if (!match || !timingSafeEqual(sha256(match[1]!), expected)) {
      throw new OutpostError(ErrorCodes.unauthorized, 'admin bearer token required');
    }
  };
}
