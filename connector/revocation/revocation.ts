import { ErrorCodes, isOutpostError, OutpostError } from '../../core/errors.js';
import type { RevocationReason } from '../../link/schema/revocation-reason.js';
import type { CaBackend } from '../ca/ca-backend.js';
import type { Inventory, InventoryRecord } from '../ports.js';

export interface RevocationOptions {
  backend: Pick<CaBackend, 'type' | 'revoke'>;
  inventory: Pick<Inventory, 'markRevoked' | 'unmarkRevoked' | 'bySerial'>;
  clock: () => Date;
}

/**
 * How a certificate is revoked, whoever asks (`outpost certs revoke`, the `cert.revoke` job via
 * revoke-certificate.ts): the inventory first, then the CA backend, which republishes its CRL;
 * OCSP (ocsp-responder.ts) answers from the same inventory.
 */
export class Revocation {
  constructor(private readonly options: RevocationOptions) {}

  /**
   * Marks the inventory first so the CRL the backend regenerates includes the serial; undone if
   * the backend refuses, so the inventory never claims a revocation the CA did not make. A CA
   * without revocation (an upstream SCEP CA) is the exception: the inventory keeps the revocation
   * as Outpost's own record, and the `unsupported` error tells the operator to revoke at the CA.
   */
  async revoke(serialHex: string, reason: RevocationReason): Promise<InventoryRecord> {
    const serial = serialHex.toLowerCase();
    const { inventory, backend, clock } = this.options;
    await inventory.markRevoked(serial, reason, clock());
    try {
      await backend.revoke(serial, reason);
    } catch (e) {
      if (isOutpostError(e) && e.code === ErrorCodes.unsupported) {
        throw new OutpostError(
          ErrorCodes.unsupported,
          `the ${backend.type} CA cannot revoke certificates: revoked in the inventory only, revoke it at the CA as well`,
          { cause: e },
        );
      }
      await inventory.unmarkRevoked(serial);
      throw e;
    }
    return (await inventory.bySerial(serial))!;
  }
}
