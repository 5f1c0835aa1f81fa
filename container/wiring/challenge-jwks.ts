import { readFile } from 'node:fs/promises';
import type { JSONWebKeySet } from 'jose';
import { ErrorCodes, OutpostError } from '../../core/errors.js';

const maxJwksBytes = 256 * 1024;

function parseJwks(text: string, source: string): JSONWebKeySet {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new OutpostError(ErrorCodes.config, `connector.scep.challenge.jwks: ${source} is not JSON`, {
      cause: e,
    });
  }
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new OutpostError(ErrorCodes.config, `connector.scep.challenge.jwks: ${source} has no keys`);
  }
  return value as JSONWebKeySet;
}

/** Loads the JWKS that signs cloud-minted challenges, from a file or an https URL (bounded). */
export async function loadChallengeJwks(source: string): Promise<JSONWebKeySet> {
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source, { signal: AbortSignal.timeout(10_000) }).catch((e: unknown) => {
      throw new OutpostError(ErrorCodes.unavailable, `cannot fetch the challenge JWKS from ${source}`, {
        cause: e,
      });
    });
    const text = await res.text();
    if (!res.ok || text.length > maxJwksBytes) {
      throw new OutpostError(
        ErrorCodes.unavailable,
        `cannot fetch the challenge JWKS from ${source} (${res.status})`,
      );
    }
    return parseJwks(text, source);
  }
  const text = await readFile(source, 'utf8').catch((e: unknown) => {
    throw new OutpostError(ErrorCodes.config, `connector.scep.challenge.jwks: cannot read ${source}`, {
      cause: e,
    });
  });
  if (text.length > maxJwksBytes)
    throw new OutpostError(ErrorCodes.config, `connector.scep.challenge.jwks: ${source} is too large`);
  return parseJwks(text, source);
}
