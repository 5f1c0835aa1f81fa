import type { InventoryRecord } from '../../connector/ports.js';
import type { OutpostError } from '../../core/errors.js';

/** Where the connector reports issuance events (the cloud link's event outbox); never blocks. */
export interface ConnectorEventSink {
  emit(event: { kind: string; data: Record<string, unknown> }): void;
}

const workerEventType = 'outpost:event';

/**
 * The cloud's notification for an issued certificate (serial, thumbprint, expiry): a SCEP issuance
 * names its transaction id, a `cert.pkcs.issue` job (`via` is `job:<jobId>`) its job id.
 */
export function issuedEvent(record: InventoryRecord, via: string) {
  const jobId = via.startsWith('job:') ? via.slice('job:'.length) : null;
  return {
    kind: 'scep.issued',
    data: {
      via,
      transactionId: record.transactionId ?? null,
      jobId,
      serialHex: record.serialHex,
      thumbprint: record.thumbprint,
      subject: record.subject,
      profile: record.profile,
      notAfter: record.notAfter.toISOString(),
    },
  };
}

/** A refused SCEP request: the code and the client-safe message only (no CSR, no challenge). */
export function refusedEvent(error: OutpostError, transactionId: string) {
  return {
    kind: 'scep.failed',
    data: { transactionId, code: error.code, reason: error.clientMessage },
  };
}

/**
 * A SCEP worker process cannot reach the link, which lives in the primary: it sends its events
 * over the cluster IPC channel instead, and the primary forwards them.
 */
export function workerEventSink(): ConnectorEventSink {
  return {
    emit(event) {
      process.send?.({ type: workerEventType, event });
    },
  };
}

/** In the primary: passes a worker's event on to the sink; other messages are not ours. */
export function forwardWorkerEvent(message: unknown, sink: ConnectorEventSink): void {
  const m = message as { type?: unknown; event?: { kind?: unknown; data?: unknown } } | null;
  if (m?.type !== workerEventType || typeof m.event?.kind !== 'string') return;
  if (typeof m.event.data !== 'object' || m.event.data === null) return;
  sink.emit({ kind: m.event.kind, data: m.event.data as Record<string, unknown> });
}
