import { ErrorCodes, OutpostError } from '../core/errors.js';
import type { ChallengeUse } from './ports.js';

/*
 * The ChallengeUse contract between the challenge verifiers (connector/issuance/challenge), which
 * hold a challenge under a key, and the stores that spend it (ports.ts ChallengeStore, Inventory,
 * PendingStore): the key format and the refusal every store gives for a challenge taken meanwhile.
 */

/**
 * How long a request may hold its challenge between the check and the write that spends it: longer
 * than a CA backend's time limit (10 s by default) plus the directory step, short enough that a
 * challenge held by a request that died with its process (SIGKILL, power loss) frees itself soon.
 * The same transaction id takes its hold back at once (clients retry under the same id).
 */
export const CHALLENGE_HOLD_MS = 120_000;

export function oneTimeUseKey(hash: string): string {
  return `otc:${hash.toLowerCase()}`;
}

export function tokenIdUseKey(jti: string): string {
  return `jti:${jti}`;
}

/** The stored challenge a ChallengeUse key names. */
export function useTarget(
  use: ChallengeUse,
): { kind: 'one-time'; hash: string } | { kind: 'jws'; jti: string } {
  if (use.key.startsWith('otc:')) return { kind: 'one-time', hash: use.key.slice(4) };
  if (use.key.startsWith('jti:')) return { kind: 'jws', jti: use.key.slice(4) };
  throw new OutpostError(ErrorCodes.internal, 'internal error', {
    detail: `unknown challenge use ${use.key}`,
  });
}

/** The refusal of a challenge that another request spent or holds: the client sees the usual message. */
export function challengeTaken(detail: string): OutpostError {
  return new OutpostError(ErrorCodes.badChallenge, 'challenge password is missing, wrong, expired or used', {
    detail,
  });
}
