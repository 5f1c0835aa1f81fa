import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyObjectSigner, type Signer } from '../signer.js';

/** Test-only helpers: fixture loading and running openssl. Not part of the codec. */
export const fixtureDir = join(import.meta.dirname, 'fixtures');

export function fixture(name: string): Buffer {
  return readFileSync(join(fixtureDir, name));
}

export function fixtureKey(name: string): KeyObject {
  return createPrivateKey(readFileSync(join(fixtureDir, name)));
}

export function fixtureSigner(name: string): Signer {
  const privateKey = fixtureKey(name);
  return keyObjectSigner(privateKey, createPublicKey(privateKey));
}

/** Runs openssl with stdin; returns stdout, throws with stderr on failure. */
export function openssl(args: string[], input?: Uint8Array): Buffer {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'], cwd: fixtureDir });
}

export const legacyProviders = ['-provider', 'default', '-provider', 'legacy'];
