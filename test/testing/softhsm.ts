import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's softhsm2 puts its PKCS#11 module here. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsm {
  dir: string;
  /** The SOFTHSM2_CONF file: tokens live under `dir`, never in the system's /var/lib/softhsm. */
  conf: string;
  /** Initializes a token in a free slot with this label and user PIN; returns a PIN file (0600). */
  initToken(label: string, pin: string): string;
  cleanup(): void;
}

/**
 * A private SoftHSM2 for one test file, in a temporary directory. SoftHSM reads SOFTHSM2_CONF at
 * C_Initialize, so this sets it in process.env: the test process and every appliance or CLI
 * process it spawns (they inherit the environment) see the same tokens.
 */
export function createSoftHsm(): SoftHsm {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    conf,
    initToken(label, pin) {
      execFileSync(
        'softhsm2-util',
        ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', `so-${pin}`],
        {
          env: { ...process.env, SOFTHSM2_CONF: conf },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const pinFile = join(dir, `${label}.pin`);
      writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
      return pinFile;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
