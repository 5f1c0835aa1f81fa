import type { InventoryFilter, InventoryRecord, PendingRequest } from '../connector/ports.js';
import type { RevocationReason } from '../link/schema/revocation-reason.js';

/**
 * What the CLI verbs (`ca …`, `scep challenge`, `certs …`) need from the connector role.
 * Implemented by container/wiring over the connector's store, CA and authority; the CLI only
 * talks to this interface.
 */
export interface ConnectorAdmin {
  /** Creates the built-in CA and RA (refuses to overwrite unless force). Returns PEMs. */
  initCa(opts: { keyAlgorithm?: 'rsa-3072' | 'rsa-2048' | 'ec-p384'; force?: boolean }): Promise<{
    caPem: string;
    raPem: string;
  }>;
  /**
   * Imports existing CA (and optional RA) material from PEM files or a PKCS#12 file, whose
   * password is read from `passwordFile` or given (prompted for by the CLI).
   */
  importCa(opts: {
    certFile?: string;
    keyFile?: string;
    pkcs12File?: string;
    passwordFile?: string;
    password?: string;
    force?: boolean;
  }): Promise<{ caPem: string; raPem: string }>;
  /**
   * Writes the CA and RA with their keys to a PKCS#12 file (0600), for `importCa` on another
   * node. File keys only: keys in a PKCS#11 token cannot leave it.
   */
  exportCa(opts: {
    file: string;
    passwordFile?: string;
    password?: string;
    force?: boolean;
  }): Promise<{ file: string; caSubject: string }>;
  caInfo(): Promise<{
    subject: string;
    notAfter: Date;
    fingerprintSha256: string;
    keyType: string;
    caPem: string;
  }>;
  /** Mints a one-time SCEP challenge, stores its hash, returns the challenge text. */
  mintChallenge(opts: { ttlSeconds: number; profile?: string }): Promise<string>;
  listCertificates(filter: InventoryFilter): Promise<InventoryRecord[]>;
  revoke(serialHex: string, reason: RevocationReason): Promise<InventoryRecord>;
  listPending(): Promise<PendingRequest[]>;
  approve(transactionId: string): Promise<InventoryRecord>;
  reject(transactionId: string): Promise<void>;
  close(): Promise<void>;
}
