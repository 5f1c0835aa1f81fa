import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../link/enroll/atomic-write.js';

/** The config sections the cloud pushed last, with the version they came as. */
export interface PushedConfig {
  version: number;
  sections: Record<string, unknown>;
}

const maxBytes = 1024 * 1024;

/**
 * Keeps the last applied cloud config in `DATA/link/pushed-config.json` (0600: it may name
 * secret files), so a restart starts from it instead of waiting for the cloud to push again.
 */
export class PushedConfigStore {
  readonly file: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'link', 'pushed-config.json');
  }

  /** The stored config, or undefined when there is none or it is unreadable (then the file config runs alone). */
  read(): PushedConfig | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return undefined;
    }
    if (text.length > maxBytes) return undefined;
    try {
      const value = JSON.parse(text) as Partial<PushedConfig>;
      if (!Number.isSafeInteger(value.version) || typeof value.sections !== 'object' || !value.sections) {
        return undefined;
      }
      return { version: value.version!, sections: value.sections };
    } catch {
      return undefined;
    }
  }

  save(pushed: PushedConfig): void {
    mkdirSync(join(this.file, '..'), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, `${JSON.stringify(pushed)}\n`, 0o600);
  }
}
