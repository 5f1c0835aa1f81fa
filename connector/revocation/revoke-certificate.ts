import { parseCertificate } from '../../certs/certificate.js';
import { dnEquals } from '../../certs/name.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { RevocationReason } from '../../link/schema/revocation-reason.js';
import type { Inventory, InventoryRecord } from '../ports.js';
import type { Revocation } from './revocation.js';

export interface RevokeDeps {
  revocation: Pick<Revocation, 'revoke'>;
  inventory: Pick<Inventory, 'bySerial'>;
}

export interface RevokeRequest {
  serialHex: string;
  /** RFC 4514 issuer; when given, the certificate with that serial must come from it. */
  issuer?: string;
  reason?: RevocationReason;
}

/**
 * Revokes a certificate this connector issued, by serial and optionally issuer (the `cert.revoke`
 * job), through Revocation (inventory first, then the CA backend, which republishes its CRL;
 * undone if the backend refuses). Errors keep the backend's
 * codes: notFound (unknown serial or another issuer's), conflict (already revoked; final),
 * unavailable (CA unreachable; retryable).
 */
export async function revokeCertificate(deps: RevokeDeps, request: RevokeRequest): Promise<InventoryRecord> {
  const serial = normalizeSerial(request.serialHex);
  if (request.issuer !== undefined) await checkIssuer(deps, serial, request.issuer);
  return deps.revocation.revoke(serial, request.reason ?? 'unspecified');
}

/** Lower-case hex without colons, as the inventory keys serials. */
function normalizeSerial(text: string): string {
  const serial = text.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,128}$/.test(serial)) {
    throw new OutpostError(ErrorCodes.badRequest, 'serialHex must be hexadecimal');
  }
  return serial;
}

/** A serial is only unique per issuer (RFC 5280 §4.1.2.2): another issuer's serial is not ours. */
async function checkIssuer(deps: RevokeDeps, serial: string, issuer: string): Promise<void> {
  const record = await deps.inventory.bySerial(serial);
  let matches = false;
  if (record) {
    try {
      matches = dnEquals(parseCertificate(record.der).issuer, issuer);
    } catch (cause) {
      throw new OutpostError(ErrorCodes.badRequest, 'issuer is not an RFC 4514 name', { cause });
    }
  }
  if (!matches) {
    throw new OutpostError(ErrorCodes.notFound, 'no certificate with this serial number from this issuer', {
      detail: serial,
    });
  }
}
