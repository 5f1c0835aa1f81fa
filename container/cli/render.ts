import type { InventoryRecord, PendingRequest } from '../../connector/ports.js';

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? '').length)));
  return all
    .map((row) =>
      row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col] ?? 0))).join('  '),
    )
    .map((line) => `${line.trimEnd()}\n`)
    .join('');
}

const isoDate = (date: Date | undefined) => date?.toISOString();

/** An inventory record as JSON: dates as ISO text, the certificate as base64 DER. */
export function certificateJson(record: InventoryRecord): Record<string, unknown> {
  const { der, notBefore, notAfter, revokedAt, ...rest } = record;
  return {
    ...rest,
    notBefore: isoDate(notBefore),
    notAfter: isoDate(notAfter),
    ...(revokedAt ? { revokedAt: isoDate(revokedAt) } : {}),
    derBase64: der.toString('base64'),
  };
}

export function pendingJson(request: PendingRequest): Record<string, unknown> {
  const { csrDer, createdAt, ...rest } = request;
  return { ...rest, createdAt: isoDate(createdAt), csrBase64: csrDer.toString('base64') };
}

export function certificatesTable(records: readonly InventoryRecord[]): string {
  return table(
    ['SERIAL', 'STATUS', 'NOT AFTER', 'PROFILE', 'SUBJECT'],
    records.map((r) => [r.serialHex, r.status, r.notAfter.toISOString(), r.profile, r.subject]),
  );
}

export function pendingTable(requests: readonly PendingRequest[]): string {
  return table(
    ['TRANSACTION', 'STATUS', 'CREATED', 'PROFILE', 'REQUESTER', 'SUBJECT'],
    requests.map((r) => [
      r.transactionId,
      r.status,
      r.createdAt.toISOString(),
      r.profile,
      r.requester,
      r.subject,
    ]),
  );
}
