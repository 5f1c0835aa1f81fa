import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyObjectSigner, type Signer } from '../signer.js';

/** Tests only: readers for a folder of committed fixtures, and openssl run inside it. */
export interface FixtureFolder {
  fixtureDir: string;
  fixture(name: string): Buffer;
  fixtureKey(name: string): KeyObject;
  fixtureSigner(name: string): Signer;
  /** Runs openssl in the folder with `input` on stdin; returns stdout, throws with stderr on failure. */
  openssl(args: string[], input?: Uint8Array): Buffer;
}

export function fixtureFolder(fixtureDir: string): FixtureFolder {
  const fixture = (name: string): Buffer => readFileSync(join(fixtureDir, name));
  const fixtureKey = (name: string): KeyObject => createPrivateKey(fixture(name));
  return {
    fixtureDir,
    fixture,
    fixtureKey,
    fixtureSigner(name) {
      const privateKey = fixtureKey(name);
      return keyObjectSigner(privateKey, createPublicKey(privateKey));
    },
    openssl: (args, input) =>
      execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'], cwd: fixtureDir }),
  };
}
