import type { RevocationReason } from '../../link/schema/revocation-reason.js';
import type { InventoryRecord, PendingRequest, PendingStatus } from '../ports.js';

/*
 * The rows both adapters keep (the same columns in SQLite and PostgreSQL) and their mapping to
 * the ports' values. `T` is how an engine stores an instant: SQLite milliseconds since the epoch
 * (INTEGER, index-friendly), PostgreSQL timestamptz (read back as a Date).
 */

export interface CertificateRow<T> {
  serial_hex: string;
  subject: string;
  sans: string;
  profile: string;
  requester: string;
  transaction_id: string | null;
  not_before: T;
  not_after: T;
  status: 'valid' | 'revoked';
  revoked_at: T | null;
  revocation_reason: string | null;
  thumbprint: string;
  der: Buffer;
  request_hash: string | null;
}

export interface PendingRow<T> {
  transaction_id: string;
  csr_der: Buffer;
  profile: string;
  requester: string;
  subject: string;
  created_at: T;
  status: PendingStatus;
  serial_hex: string | null;
}

export function certificateRow<T>(rec: InventoryRecord, instant: (d: Date) => T): CertificateRow<T> {
  return {
    serial_hex: rec.serialHex.toLowerCase(),
    subject: rec.subject,
    sans: JSON.stringify(rec.sans),
    profile: rec.profile,
    requester: rec.requester,
    transaction_id: rec.transactionId ?? null,
    not_before: instant(rec.notBefore),
    not_after: instant(rec.notAfter),
    status: rec.status,
    revoked_at: rec.revokedAt ? instant(rec.revokedAt) : null,
    revocation_reason: rec.revocationReason ?? null,
    thumbprint: rec.thumbprint,
    der: rec.der,
    request_hash: rec.requestHash ?? null,
  };
}

export function certificateFromRow<T>(row: CertificateRow<T>, date: (v: T) => Date): InventoryRecord {
  return {
    serialHex: row.serial_hex,
    subject: row.subject,
    sans: JSON.parse(row.sans) as string[],
    profile: row.profile,
    requester: row.requester,
    ...(row.transaction_id !== null ? { transactionId: row.transaction_id } : {}),
    notBefore: date(row.not_before),
    notAfter: date(row.not_after),
    status: row.status,
    ...(row.revoked_at !== null ? { revokedAt: date(row.revoked_at) } : {}),
    ...(row.revocation_reason !== null
      ? { revocationReason: row.revocation_reason as RevocationReason }
      : {}),
    thumbprint: row.thumbprint,
    der: row.der,
    ...(row.request_hash !== null ? { requestHash: row.request_hash } : {}),
  };
}

export function pendingFromRow<T>(row: PendingRow<T>, date: (v: T) => Date): PendingRequest {
  return {
    transactionId: row.transaction_id,
    csrDer: row.csr_der,
    profile: row.profile,
    requester: row.requester,
    subject: row.subject,
    createdAt: date(row.created_at),
    status: row.status,
    ...(row.serial_hex !== null ? { serialHex: row.serial_hex } : {}),
  };
}
