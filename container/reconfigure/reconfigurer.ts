import type { Logger } from 'pino';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { mergeLayer } from '../config/merge-layer.js';
import type { OutpostConfig } from '../config/schema.js';
import { changedPaths, classifyChanges } from './config-diff.js';
import type { PushedConfig, PushedConfigStore } from './pushed-config-store.js';

/** A running role that can take a new config in place. */
export interface ReconfigurableRole {
  reconfigure(next: OutpostConfig): Promise<void>;
}

export interface ReconfigureOutcome {
  /** Changed keys now in force. */
  applied: string[];
  /** Changed keys saved but waiting for a restart (pools, TUN, NAT, data dir, …). */
  pendingRestart: string[];
}

export interface ReconfigurerOptions {
  current: OutpostConfig;
  /** Builds the effective config from the file, the environment and these pushed sections. */
  load: (pushed: Record<string, unknown>) => OutpostConfig;
  roles: { gateway?: ReconfigurableRole | undefined; connector?: ReconfigurableRole | undefined };
  store: PushedConfigStore;
  logger: Logger;
}

/** Sections the cloud may push; the rest of the config stays the host's. */
export const PUSHABLE_SECTIONS = ['gateway', 'connector'] as const;

/**
 * Applies new configuration to the running appliance, from the cloud (`config` pushes) or from
 * the file (SIGHUP). Validation uses the same schema as start-up, so an invalid push is refused
 * with the schema's messages and the running config stays. One change at a time.
 */
export class Reconfigurer {
  private current: OutpostConfig;
  private pushed: PushedConfig;
  /** Values the link supplies where the host configured none (the cloud's JWKS file). */
  private linkDefaults: Record<string, unknown> = {};
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ReconfigurerOptions) {
    this.current = o.current;
    this.pushed = o.store.read() ?? { version: 0, sections: {} };
  }

  /** The last cloud config version applied (0: none yet). */
  appliedVersion(): number {
    return this.pushed.version;
  }

  /** A pushed section; throws OutpostError `config` with the reasons when it does not validate. */
  applyPushed(section: string, version: number, value: unknown): Promise<ReconfigureOutcome> {
    return this.serialized(async () => {
      if (!(PUSHABLE_SECTIONS as readonly string[]).includes(section)) {
        throw new OutpostError(ErrorCodes.config, `the cloud cannot configure "${section}"`);
      }
      const sections = { ...this.pushed.sections, [section]: value };
      const next = this.validate(mergeLayer(this.linkDefaults, sections) as Record<string, unknown>);
      const outcome = await this.switchTo(next, `cloud config ${version}`);
      this.pushed = { version, sections };
      this.o.store.save(this.pushed);
      return outcome;
    });
  }

  /** Re-reads the config file (SIGHUP), keeping what the cloud pushed. */
  reload(): Promise<ReconfigureOutcome> {
    return this.serialized(async () => this.switchTo(this.validate(this.layers()), 'config file'));
  }

  /**
   * The cloud's JWKS (saved by the link in `file`) verifies SCEP challenges and gateway bearer
   * tokens, unless the host configured its own JWKS for them. Called again when the cloud rotates
   * its keys: the file is the same, its content is not, so the roles using it reload even though
   * no config key changed.
   */
  useCloudJwks(file: string, issuer: string): Promise<ReconfigureOutcome> {
    return this.serialized(async () => {
      const challenge = this.current.connector.scep.challenge.jwks;
      const token = this.current.gateway.auth.token;
      const connectorUses = challenge === null || challenge === file;
      const gatewayUses = token.jwks === null || token.jwks === file;
      const defaults: Record<string, unknown> = {};
      if (connectorUses) defaults.connector = { scep: { challenge: { jwks: file } } };
      if (gatewayUses) {
        const ownIssuer = token.issuer !== null && token.jwks !== file;
        defaults.gateway = { auth: { token: { jwks: file, ...(ownIssuer ? {} : { issuer }) } } };
      }
      this.linkDefaults = defaults;
      return this.switchTo(this.validate(this.layers()), 'cloud JWKS', {
        connector: connectorUses,
        gateway: gatewayUses,
      });
    });
  }

  private layers(): Record<string, unknown> {
    return mergeLayer(this.linkDefaults, this.pushed.sections) as Record<string, unknown>;
  }

  /** Throws ConfigError (code OUTPOST_ERR_CONFIG, every problem listed) when the result is invalid. */
  private validate(sections: Record<string, unknown>): OutpostConfig {
    return this.o.load(sections);
  }

  private async switchTo(
    next: OutpostConfig,
    source: string,
    force: { gateway?: boolean; connector?: boolean } = {},
  ): Promise<ReconfigureOutcome> {
    const { live, restart } = classifyChanges(changedPaths(this.current, next));
    const touches = (...prefixes: string[]) =>
      live.some((p) => prefixes.some((prefix) => p.startsWith(prefix))) ||
      (prefixes.includes('connector.') && force.connector === true) ||
      (prefixes.includes('gateway.') && force.gateway === true);
    // The connector first: its refusal (a CA backend that does not open) leaves the gateway as it was.
    if (touches('connector.', 'directories.') && this.o.roles.connector)
      await this.o.roles.connector.reconfigure(next);
    if (touches('gateway.', 'directories.') && this.o.roles.gateway)
      await this.o.roles.gateway.reconfigure(next);
    this.current = next;
    const outcome = { applied: live, pendingRestart: restart };
    this.o.logger.info({ component: 'reconfigure', source, ...outcome }, 'configuration applied');
    return outcome;
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
