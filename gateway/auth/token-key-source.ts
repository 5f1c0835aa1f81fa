import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

export interface TokenKeySourceOptions {
  /** Time limit for one JWKS fetch (DESIGN rule 4). */
  timeoutMs?: number;
  /** How long a fetched JWKS is used before it is fetched again. */
  cacheMaxAgeMs?: number;
  /** Minimum time between fetches triggered by an unknown `kid` (a flood of bad tokens must not become a flood of fetches). */
  cooldownMs?: number;
}

const MAX_JWKS_FILE_BYTES = 256 * 1024;

/**
 * The keys tokens are verified with, from `gateway.auth.token.jwks`: a JWKS file path, or an
 * https:// URL (http:// only to a loopback host, e.g. a local identity provider in tests: keys
 * fetched in clear from elsewhere could be swapped by anyone on the path).
 */
export async function tokenKeySource(
  jwks: string,
  options: TokenKeySourceOptions = {},
): Promise<JWTVerifyGetKey> {
  if (/^https?:\/\//i.test(jwks)) {
    const url = new URL(jwks);
    if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
      throw new Error(`JWKS URL must be https:// (http:// only for loopback): ${jwks}`);
    }
    return createRemoteJWKSet(url, {
      timeoutDuration: options.timeoutMs ?? 5000,
      cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60_000,
      cooldownDuration: options.cooldownMs ?? 30_000,
    });
  }
  const text = await readFile(jwks, 'utf8');
  if (text.length > MAX_JWKS_FILE_BYTES) throw new Error(`JWKS file ${jwks} is larger than 256 KiB`);
  const set = JSON.parse(text) as JSONWebKeySet;
  if (!Array.isArray(set.keys)) throw new Error(`JWKS file ${jwks} has no "keys" array`);
  return createLocalJWKSet(set);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
