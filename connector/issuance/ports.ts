import type { RevocationReason } from '../ca/ca-backend.js';

/** One issued certificate as the inventory keeps it. */
export interface InventoryRecord {
  serialHex: string;
  /** RFC 4514 subject text. */
  subject: string;
  /** SANs flattened as "dns:x", "email:y", "uri:z", "ip:a", "upn:b". */
  sans: string[];
  profile: string;
  requester: string;
  transactionId?: string;
  notBefore: Date;
  notAfter: Date;
  status: 'valid' | 'revoked';
  revokedAt?: Date;
  revocationReason?: RevocationReason;
  /** SHA-256 of the DER, lower-case hex. */
  thumbprint: string;
  der: Buffer;
}

export interface InventoryFilter {
  status?: 'valid' | 'revoked';
  subjectContains?: string;
  limit?: number;
  offset?: number;
}

/** Issued-certificate inventory (SQLite adapter in connector/store). */
export interface Inventory {
  record(rec: InventoryRecord): void;
  bySerial(serialHex: string): InventoryRecord | undefined;
  byTransactionId(transactionId: string): InventoryRecord | undefined;
  /** The newest certificate recorded for this requester (e.g. "job:<jobId>"), if any. */
  byRequester(requester: string): InventoryRecord | undefined;
  list(filter: InventoryFilter): InventoryRecord[];
  count(filter?: Pick<InventoryFilter, 'status'>): number;
  /** Throws OutpostError notFound / conflict (already revoked). */
  markRevoked(serialHex: string, reason: RevocationReason, at: Date): void;
  /** Undo of markRevoked when the backend refused; no-op if not revoked. */
  unmarkRevoked(serialHex: string): void;
  /** Every revoked serial, for CRL generation, ordered by serial. */
  revokedEntries(): Array<{ serialHex: string; revokedAt: Date; reason: RevocationReason }>;
}

/** One-time challenges (stored hashed) and used JWS token ids (single use). */
export interface ChallengeStore {
  /** `hash` is SHA-256 hex of the challenge string. */
  addOneTime(hash: string, expiresAt: Date, profile?: string): void;
  /** Atomically deletes and returns the challenge if present and not expired. */
  consumeOneTime(hash: string, now: Date): { profile?: string } | undefined;
  /** Records a JWS `jti`; false if it was seen before. Entries may be purged after `expiresAt`. */
  consumeTokenId(jti: string, expiresAt: Date, now: Date): boolean;
  purgeExpired(now: Date): number;
}

export type PendingStatus = 'pending' | 'approved' | 'rejected' | 'issued';

export interface PendingRequest {
  transactionId: string;
  csrDer: Buffer;
  profile: string;
  requester: string;
  subject: string;
  createdAt: Date;
  status: PendingStatus;
  serialHex?: string;
}

/** Requests waiting for manual approval (`outpost certs approve`). */
export interface PendingStore {
  add(req: Omit<PendingRequest, 'status' | 'serialHex'>): void;
  get(transactionId: string): PendingRequest | undefined;
  list(status?: PendingStatus): PendingRequest[];
  setStatus(transactionId: string, status: PendingStatus, serialHex?: string): void;
}
