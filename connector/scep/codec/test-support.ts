import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyObjectSigner, type Signer } from '../../../certs/signer.js';

/** Test-only: fixtures (see fixtures/README.md) and openssl. */
export const fixtureDir = join(import.meta.dirname, 'fixtures');
export const fixture = (name: string): Buffer => readFileSync(join(fixtureDir, name));
export const fixtureKey = (name: string): KeyObject => createPrivateKey(fixture(name));
export function fixtureSigner(name: string): Signer {
  const key = fixtureKey(name);
  return keyObjectSigner(key, createPublicKey(key));
}
export function openssl(args: string[], input?: Uint8Array): Buffer {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'], cwd: fixtureDir });
}
