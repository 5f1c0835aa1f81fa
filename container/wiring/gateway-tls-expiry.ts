import { Gauge, type Registry } from 'prom-client';
import type { Readiness } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';
import { servedTlsExpiry } from './role-health.js';

/** Microsoft Tunnel's certificate check warns 30 days ahead; so do /readyz and the alert rules. */
export const EXPIRY_WARNING_DAYS = 30;
const dayMs = 24 * 3600 * 1000;

/** The /readyz verdict on a certificate expiring at `expiry` (null: none could be read). */
export function expiryCheck(expiry: Date | null, now: number): { ok: boolean; detail?: string } {
  if (expiry === null) return { ok: false, detail: 'the served certificate cannot be read' };
  const days = Math.floor((expiry.getTime() - now) / dayMs);
  if (days < 0) return { ok: false, detail: `the served certificate expired on ${expiry.toISOString()}` };
  if (days < EXPIRY_WARNING_DAYS)
    return { ok: false, detail: `the served certificate expires in ${days} days (${expiry.toISOString()})` };
  return { ok: true, detail: `expires ${expiry.toISOString()}` };
}

/**
 * The served certificate's expiry in /readyz (`gateway-certificate`: a warning, not counted in
 * `ready`: an expiring certificate still serves) and as a metric for the alert rules
 * (deploy/prometheus/alerts.yaml).
 */
export function watchServedCertificate(
  config: OutpostConfig,
  readiness: Readiness,
  registry: Registry,
  clock: () => number = Date.now,
): void {
  readiness.register('gateway-certificate', async () => expiryCheck(await servedTlsExpiry(config), clock()), {
    critical: false,
  });
  new Gauge({
    name: 'outpost_gateway_certificate_expiry_timestamp_seconds',
    help: 'When the TLS certificate the gateway serves expires (Unix time)',
    registers: [registry],
    async collect() {
      const expiry = await servedTlsExpiry(config);
      if (expiry !== null) this.set(expiry.getTime() / 1000);
    },
  });
}
