import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Inventory } from '../../connector/ports.js';
import type { OcspMetrics } from '../../connector/scep/http/ocsp-route.js';
import { type ScepMetrics, scepOperationLabel } from '../../connector/scep/http/scep-routes.js';
import { fixedLabel } from '../../core/metric-labels.js';

// Every label value below comes from a fixed set (`other` for the rest): a value a device can
// influence must never become a new time series.
const outcomeLabel = fixedLabel(['ok', 'success', 'failure', 'pending', 'rejected', 'busy', 'error']);
/** `via` is `challenge:<ref>`, `renewal:<serial>`, `approval` or `job:<id>`: only the kind is kept. */
const viaLabel = fixedLabel(['challenge', 'renewal', 'approval', 'job']);
const ocspStatusLabel = fixedLabel([
  'good',
  'revoked',
  'unknown',
  'malformedRequest',
  'internalError',
  'tryLater',
  'sigRequired',
  'unauthorized',
]);

export interface ConnectorMetrics extends ScepMetrics, OcspMetrics {
  issued(profile: string, via: string): void;
}

/** Prometheus metrics of the connector role; the inventory gauge is read at scrape time. */
export function createConnectorMetrics(
  registry: Registry,
  inventory: Pick<Inventory, 'count'>,
): ConnectorMetrics {
  const requests = new Counter({
    name: 'outpost_scep_requests_total',
    help: 'SCEP requests by operation and outcome (ok, success, failure, pending, rejected, busy, error)',
    labelNames: ['operation', 'outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'outpost_scep_request_duration_seconds',
    help: 'SCEP request handling time',
    labelNames: ['operation'],
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const issued = new Counter({
    name: 'outpost_certificates_issued_total',
    help: 'Certificates issued by profile and authorization (challenge kind, renewal, approval)',
    labelNames: ['profile', 'via'],
    registers: [registry],
  });
  const ocsp = new Counter({
    name: 'outpost_ocsp_requests_total',
    help: 'OCSP answers: per certificate asked about (good, revoked, unknown), or per request for an error status (malformedRequest, internalError, tryLater)',
    labelNames: ['status'],
    registers: [registry],
  });
  new Gauge({
    name: 'outpost_certificates_inventory',
    help: 'Certificates in the inventory by status',
    labelNames: ['status'],
    // Every SCEP worker reads the same database: across a cluster take one reading, not the sum.
    aggregator: 'max',
    registers: [registry],
    async collect() {
      this.set({ status: 'valid' }, await inventory.count({ status: 'valid' }));
      this.set({ status: 'revoked' }, await inventory.count({ status: 'revoked' }));
    },
  });
  return {
    observe(operation, outcome, seconds) {
      const label = scepOperationLabel(operation);
      requests.inc({ operation: label, outcome: outcomeLabel(outcome) });
      duration.observe({ operation: label }, seconds);
    },
    issued(profile, via) {
      // profile: a name from the configuration (the authority refuses any other).
      issued.inc({ profile, via: viaLabel(via.split(':')[0]) });
    },
    ocsp(status) {
      ocsp.inc({ status: ocspStatusLabel(status) });
    },
  };
}
