import { mkdirSync } from 'node:fs';
import { ErrorCodes, OutpostError } from '../core/errors.js';

/**
 * Creates the data directory (and its parents) if missing, private to the service user: it holds
 * CA keys. Existing directories keep their mode.
 */
export function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new OutpostError(ErrorCodes.config, `the data directory ${dir} cannot be created (${code})`, {
      cause: e,
    });
  }
}
