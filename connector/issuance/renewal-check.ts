import { parseCertificate } from '../../certs/certificate.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { Inventory, InventoryRecord } from '../ports.js';
import { sha256Hex } from './admission.js';

/**
 * What authorizes a RenewalReq (RFC 8894 §3.3.1.2) in place of a challenge: the certificate that
 * signed it is one this connector issued (same serial and same bytes), still valid and unexpired.
 */
export async function certificateToRenew(
  inventory: Pick<Inventory, 'bySerial'>,
  clock: () => Date,
  signerCertDer: Buffer,
): Promise<InventoryRecord> {
  const record = await issuedByUs(inventory, signerCertDer);
  const now = clock();
  if (record?.status !== 'valid') {
    throw new OutpostError(
      ErrorCodes.badRequest,
      'renewal must be signed by a valid certificate from this CA',
    );
  }
  if (record.notAfter.getTime() < now.getTime()) {
    throw new OutpostError(ErrorCodes.badRequest, 'the certificate to renew has expired');
  }
  return record;
}

/** The inventory record of exactly this certificate (same serial and same bytes), if we issued it. */
async function issuedByUs(
  inventory: Pick<Inventory, 'bySerial'>,
  signerCertDer: Buffer,
): Promise<InventoryRecord | undefined> {
  let serialHex: string;
  try {
    serialHex = parseCertificate(signerCertDer).serialHex;
  } catch {
    return undefined;
  }
  const record = await inventory.bySerial(serialHex);
  return record && record.thumbprint === sha256Hex(signerCertDer) ? record : undefined;
}
