import type { Logger } from 'pino';
import { ErrorCodes } from '../core/errors.js';
import { failureOutcome, UNSUPPORTED_CODE } from './job-outcome.js';
import type { JobJournal } from './journal/job-journal.js';
import type { ConfigApplier } from './ports.js';
import type { WireError } from './schema/common.js';

export type ConfigResult = { status: 'applied' } | { status: 'rejected'; error: WireError };

const VERSION_KEY = 'configVersion';

/**
 * Applies pushed configs one at a time, section by section, to the appliers the roles registered.
 * Every section is validated before any is applied, so an invalid push changes nothing and the
 * previous config stays in force. The last applied version is journaled and reported in `hello`.
 */
export class ConfigDispatcher {
  private readonly appliers = new Map<string, ConfigApplier>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly journal: JobJournal,
    private readonly logger: Logger,
  ) {}

  register(applier: ConfigApplier): void {
    if (this.appliers.has(applier.section)) {
      throw new Error(`a config applier for ${applier.section} is already registered`);
    }
    this.appliers.set(applier.section, applier);
  }

  appliedVersion(): number | null {
    const v = this.journal.getState(VERSION_KEY);
    return v === undefined ? null : Number(v);
  }

  /** Queued behind any push still being applied. */
  apply(version: number, config: Record<string, unknown>): Promise<ConfigResult> {
    const run = this.chain.then(() => this.applyNow(version, config));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async applyNow(version: number, config: Record<string, unknown>): Promise<ConfigResult> {
    // The same version again (a push repeated after a reconnect) is already in force.
    if (this.appliedVersion() === version) return { status: 'applied' };
    const sections = Object.entries(config).filter(([, value]) => value !== undefined);
    const missing = sections.map(([name]) => name).filter((name) => !this.appliers.has(name));
    if (missing.length > 0) {
      return reject(UNSUPPORTED_CODE, `this appliance does not apply ${missing.join(', ')} configuration`);
    }
    const log = this.logger.child({ configVersion: version });
    try {
      for (const [name, value] of sections) await this.appliers.get(name)!.validate?.(value);
      for (const [name, value] of sections) await this.appliers.get(name)!.apply(version, value);
    } catch (e) {
      const { error } = failureOutcome(e);
      log.warn(
        { code: error.code, reason: error.message },
        'config rejected; the previous one stays in force',
      );
      return {
        status: 'rejected',
        error: { ...error, code: error.code === ErrorCodes.internal ? ErrorCodes.config : error.code },
      };
    }
    this.journal.setState(VERSION_KEY, String(version));
    log.info({ sections: sections.map(([name]) => name) }, 'config applied');
    return { status: 'applied' };
  }
}

function reject(code: string, message: string): ConfigResult {
  return { status: 'rejected', error: { code, message, retryable: false } };
}
