import type { Logger } from 'pino';
import type { ShutdownManager } from '../shutdown.js';
import type { ConnectorCore } from './connector-core.js';

/** How often the connector looks after its CRL and expired challenges. */
export const MAINTENANCE_INTERVAL_MS = 5_000;

/**
 * The owner (the single process, or the cluster primary) renews the CRL before it expires and
 * purges used challenges; everyone adopts a newer CRL written by another process (a CLI
 * revocation, or the owner).
 */
export function scheduleMaintenance(
  core: ConnectorCore,
  log: Logger,
  shutdown: ShutdownManager | undefined,
  { owner }: { owner: boolean },
): NodeJS.Timeout {
  const timer = setInterval(async () => {
    try {
      await core.ca.reloadCrl();
      if (owner) {
        await core.ca.refreshCrlIfDue();
        await core.challengeStore.purgeExpired(new Date());
        // Requests an upstream CA answered PENDING: the backend's poll schedule bounds the traffic
        await core.authority.pollAwaitingCa((transactionId, err) =>
          log.warn({ err, transactionId }, 'asking the CA about a pending request failed'),
        );
      }
    } catch (e) {
      log.error({ err: e }, 'connector maintenance failed');
    }
  }, MAINTENANCE_INTERVAL_MS);
  timer.unref();
  shutdown?.register('connector maintenance', () => clearInterval(timer));
  return timer;
}
