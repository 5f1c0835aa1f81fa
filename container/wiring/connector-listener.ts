import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AuthorityEvents } from '../../connector/issuance/admission.js';
import { createConnectorHttp } from '../../connector/scep/http/connector-http.js';
import { registerCrlRoute } from '../../connector/scep/http/crl-route.js';
import { registerOcspRoute } from '../../connector/scep/http/ocsp-route.js';
import { ScepOperations } from '../../connector/scep/http/scep-operations.js';
import type { ScepRa } from '../../connector/scep/http/scep-ra.js';
import { registerScepRoutes } from '../../connector/scep/http/scep-routes.js';
import { parseListenAddress } from '../config/listen-address.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ConnectorCore } from './connector-core.js';
import { type ConnectorEventSink, issuedEvent, refusedEvent } from './connector-events.js';
import type { ConnectorMetrics } from './connector-metrics.js';

/**
 * The RA is always the built-in CA's (CertReps are signed on the appliance); the chain devices
 * get with GetCACert and with their certificate, and GetCRL, are the issuing backend's. A getter:
 * a remote backend learns or refreshes its chain after start.
 */
function scepRa(core: ConnectorCore): ScepRa {
  return {
    certDer: core.ca.raCertificateDer,
    privateKey: core.ca.raDecryptionKey,
    signer: core.ca.raSigner,
    get caChainDer() {
      return core.backend.caChain();
    },
    currentCrl: () => core.backend.currentCrl(),
  };
}

/**
 * The device-facing HTTP listener (SCEP + CRL) over an open core. With `share` processes behind
 * one port, each enforces its share of the per-client rate and concurrency limits (the primary
 * spreads connections evenly over them, scep-dispatch.ts), so the configured totals hold for the
 * whole appliance. `listen: false` (a cluster worker): the server is made ready but binds no port;
 * the primary hands it connections.
 */
export async function startConnectorListener(
  core: ConnectorCore,
  config: OutpostConfig,
  logger: Logger,
  metrics: ConnectorMetrics,
  share = 1,
  options: { listen: boolean } = { listen: true },
): Promise<FastifyInstance> {
  const { scep } = config.connector;
  const limits = {
    ...scep.limits,
    ratePerClientPerMinute: Math.ceil(scep.limits.ratePerClientPerMinute / share),
    maxConcurrent: Math.ceil(scep.limits.maxConcurrent / share),
  };
  const app = createConnectorHttp({
    maxBodyBytes: limits.maxBodyBytes,
    requestTimeoutMs: limits.requestTimeoutMs,
  });
  const ra = scepRa(core);
  const scepLog = logger.child({ component: 'scep' });
  const operations = new ScepOperations({
    ra,
    authority: core.authority,
    maxMessageBytes: limits.maxBodyBytes,
    logger: scepLog,
  });
  registerScepRoutes(app, { path: scep.path, ra, operations, limits, logger: scepLog, metrics });
  registerCrlRoute(app, () => core.ca.currentCrl());
  if (core.ocsp)
    registerOcspRoute(app, { responder: core.ocsp, logger: logger.child({ component: 'ocsp' }), metrics });
  if (!options.listen) {
    await app.ready();
    return app;
  }
  const where = parseListenAddress(scep.listen)!;
  await app.listen({ host: where.host, port: where.port });
  return app;
}

/**
 * Logs each issuance and refusal, counts issuances, and reports both to the cloud link when one
 * is attached: the authority's event hook, shared by both run modes.
 */
export function issuanceEvents(
  logger: Logger,
  metrics: () => ConnectorMetrics,
  sink?: ConnectorEventSink,
): AuthorityEvents {
  return {
    issued: (record, via) => {
      metrics().issued(record.profile, via);
      logger.info(
        {
          serial: record.serialHex,
          subject: record.subject,
          profile: record.profile,
          via,
          transactionId: record.transactionId,
        },
        'certificate issued',
      );
      sink?.emit(issuedEvent(record, via));
    },
    refused: (error, transactionId) => sink?.emit(refusedEvent(error, transactionId)),
    keyUsageDropped: (profile, dropped, requester) =>
      logger.warn(
        { profile, dropped, requester },
        'profile lists key usages an EC key cannot have (RFC 5480 §3): issued without them',
      ),
  };
}

export type { Registry };
