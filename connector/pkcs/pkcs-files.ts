import { join } from 'node:path';

/**
 * Where the PKCS work keeps its keys, inside the data directory (mode 0700, files 0600):
 * - `seal.key`: 32 random bytes, the AES-256-GCM key that seals job checkpoints (key-sealer.ts);
 * - `import.key`: the RSA-3072 import key admins encrypt PFX passwords to (import-key.ts).
 */
export function pkcsDirectory(dataDir: string): string {
  return join(dataDir, 'pkcs');
}

export const PkcsFiles = {
  sealKey: 'seal.key',
  importKey: 'import.key',
} as const;
