import type { RevocationReason } from '../link/schema/revocation-reason.js';

/*
 * The connector's storage ports: what issuance, revocation, the CA backends and the CLI need from
 * the state store (the issued-certificate inventory, parked requests, one-time challenges and used
 * JWS ids). Plain values in and out, no engine types: connector/store implements them on SQLite,
 * connector/store/postgres on PostgreSQL for a site (DESIGN "State"). Every method is async: a
 * shared engine answers over the network; SQLite answers at once.
 */

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
  /**
   * SHA-256 hex of the CSR's CertificationRequestInfo it was issued for: tells a retried request
   * from a new one under the same transaction id. Absent for certificates recorded before.
   */
  requestHash?: string;
}

export interface InventoryFilter {
  status?: 'valid' | 'revoked';
  subjectContains?: string;
  limit?: number;
  offset?: number;
}

/**
 * A one-time challenge or JWS id held by one request from its check until the write that spends
 * it (issue 11 #3): a refusal releases it, a crash leaves a hold that expires, and the spend
 * happens in the same store transaction as the certificate or the PENDING row it paid for.
 */
export interface ChallengeUse {
  /** `otc:<sha256 hex>` or `jti:<id>`: never the secret itself. */
  key: string;
  /** The request holding it: its SCEP transaction id, so a retried transaction takes it back. */
  holder: string;
  /** A JWS id's expiry: its used-id record may be purged after it. */
  expiresAt: Date;
}

/** What one SCEP transaction id already led to (Inventory.transactionHistory), each part absent if none. */
export interface TransactionHistory {
  /** The newest certificate recorded under it. */
  issued?: InventoryRecord;
  /** The request parked under it (PendingStore's row). */
  parked?: PendingRequest;
}

/** Issued-certificate inventory. */
export interface Inventory {
  /**
   * Records an issued certificate; with `spending`, spends that challenge in the same transaction
   * and records nothing (throws badChallenge) if it was spent or held by another request meanwhile.
   */
  record(rec: InventoryRecord, spending?: ChallengeUse): Promise<void>;
  bySerial(serialHex: string): Promise<InventoryRecord | undefined>;
  byTransactionId(transactionId: string): Promise<InventoryRecord | undefined>;
  /**
   * byTransactionId and PendingStore.get in one call (both tables live in one store): what every
   * enrollment asks first (issuance/earlier-outcome.ts). On a shared engine it is one statement,
   * so one round trip instead of two, and both answers come from one snapshot.
   */
  transactionHistory(transactionId: string): Promise<TransactionHistory>;
  /** The newest certificate recorded for this requester (e.g. "job:<jobId>"), if any. */
  byRequester(requester: string): Promise<InventoryRecord | undefined>;
  list(filter: InventoryFilter): Promise<InventoryRecord[]>;
  count(filter?: Pick<InventoryFilter, 'status'>): Promise<number>;
  /** Throws OutpostError notFound / conflict (already revoked). */
  markRevoked(serialHex: string, reason: RevocationReason, at: Date): Promise<void>;
  /** Undo of markRevoked when the backend refused; no-op if not revoked. */
  unmarkRevoked(serialHex: string): Promise<void>;
  /** Every revoked serial, for CRL generation, ordered by serial. */
  revokedEntries(): Promise<Array<{ serialHex: string; revokedAt: Date; reason: RevocationReason }>>;
}

/**
 * One-time challenges (stored hashed) and used JWS token ids (single use). A request first holds
 * its challenge (holdOneTime / holdTokenId); Inventory.record or PendingStore.add spends it.
 */
export interface ChallengeStore {
  /** `hash` is SHA-256 hex of the challenge string. */
  addOneTime(hash: string, expiresAt: Date, profile?: string): Promise<void>;
  /**
   * Holds the one-time challenge for `holder` until `until`, atomically, if it exists, has not
   * expired and no other holder's hold is live; a hold by the same holder is renewed (a
   * transaction retried after a crash). Returns the challenge's profile, or undefined.
   */
  holdOneTime(
    hash: string,
    holder: string,
    now: Date,
    until: Date,
  ): Promise<{ profile?: string } | undefined>;
  /** The same for a JWS `jti` never used before; false if used or held by another request. */
  holdTokenId(jti: string, holder: string, now: Date, until: Date): Promise<boolean>;
  /** Ends `holder`'s hold without spending (the request was refused); no-op otherwise. */
  release(use: ChallengeUse): Promise<void>;
  purgeExpired(now: Date): Promise<number>;
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

/** Parked requests: waiting for manual approval (`outpost certs approve`), or held by the CA. */
export interface PendingStore {
  /** Parks a request; with `spending`, spends that challenge in the same transaction (see Inventory.record). */
  add(req: Omit<PendingRequest, 'status' | 'serialHex'>, spending?: ChallengeUse): Promise<void>;
  get(transactionId: string): Promise<PendingRequest | undefined>;
  list(status?: PendingStatus): Promise<PendingRequest[]>;
  setStatus(transactionId: string, status: PendingStatus, serialHex?: string): Promise<void>;
}

/**
 * The CRLs a site's nodes publish for one CA (a site's PostgreSQL: connector/store/postgres/pg-crls.ts):
 * one node regenerates, every node serves the newest. Absent: this node's crl.der alone.
 */
export interface SharedCrls {
  newest(): Promise<Buffer | undefined>;
  /** Publishes the CRL numbered `number`; false when that number exists already (another node's). */
  publish(crl: { number: bigint; thisUpdate: Date; nextUpdate: Date; der: Buffer }): Promise<boolean>;
}
