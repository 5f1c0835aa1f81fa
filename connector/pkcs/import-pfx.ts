import { createHash, type KeyObject } from 'node:crypto';
import { type ParsedCertificate, parseCertificate } from '../../certs/certificate.js';
import { keysMatch } from '../../certs/keys.js';
import { readPkcs12 } from '../../certs/pkcs12/read-pkcs12.js';
import type { Pkcs12Key } from '../../certs/pkcs12/safe-bags.js';
import type { Pkcs12Protection } from '../../certs/pkcs12/write-pkcs12.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { parseDevicePublicKey } from './device-key.js';
import type { ImportKey } from './import-key.js';
import { type DevicePackage, wrapForDevice } from './wrap-for-device.js';

export interface PfxImportDeps {
  importKey: ImportKey;
  clock: () => Date;
}

export interface PfxImportRequest {
  pfx: Buffer;
  /** The PFX password, RSA-OAEP-SHA512-encrypted to the import key. */
  encryptedPassword: Buffer;
  /** Id (SHA-256 of the SPKI, hex) of the import key the password was encrypted to. */
  importKeyId: string;
  protection: Pkcs12Protection;
  devicePublicKey: string;
}

export interface ImportedPfx extends DevicePackage {
  certificate: ParsedCertificate;
  /** SHA-256 of the certificate DER, lower-case hex. */
  thumbprint: string;
}

const EMAIL_PROTECTION = 'emailProtection';
const ANY_EKU = 'anyExtendedKeyUsage';

/**
 * Re-wraps an admin's S/MIME PFX for one device: decrypt its password with the import key, open
 * it (wrong password → badSignature, corrupt → decode, RC2 → unsupportedAlgorithm with re-export
 * advice; all final), check it is usable for S/MIME, and write a new PKCS#12 under a fresh
 * password encrypted to the device. Nothing is stored: the connector did not issue it.
 */
export function importPfx(deps: PfxImportDeps, request: PfxImportRequest): ImportedPfx {
  const deviceKey = parseDevicePublicKey(request.devicePublicKey);
  if (request.importKeyId.toLowerCase() !== deps.importKey.id) {
    throw new OutpostError(
      ErrorCodes.badRequest,
      `the PFX password was encrypted to another import key; this connector's key id is ${deps.importKey.id} (outpost pfx export-key)`,
    );
  }
  const passwordBytes = deps.importKey.decrypt(request.encryptedPassword);
  const password = passwordBytes.toString('utf8');
  passwordBytes.fill(0);
  const { certificates, keys } = readPkcs12(request.pfx, password);
  const { key, certificate } = pairKeyAndCertificate(keys, certificates);
  checkUsableForSmime(certificate, deps.clock());
  const chain = certificates.filter((der) => !der.equals(certificate.der));
  const wrapped = wrapForDevice(
    {
      privateKey: key.privateKey,
      certificate,
      chain,
      ...(key.friendlyName !== undefined ? { friendlyName: key.friendlyName } : {}),
    },
    deviceKey,
    request.protection,
  );
  return {
    certificate,
    thumbprint: createHash('sha256').update(certificate.der).digest('hex'),
    ...wrapped,
  };
}

/** The one key of the file and its certificate (matched by public key, not by localKeyId, which is optional). */
function pairKeyAndCertificate(
  keys: Pkcs12Key[],
  certificates: Buffer[],
): { key: Pkcs12Key & { privateKey: KeyObject }; certificate: ParsedCertificate } {
  if (keys.length === 0) throw new OutpostError(ErrorCodes.badRequest, 'the PFX holds no private key');
  if (keys.length > 1) {
    throw new OutpostError(ErrorCodes.badRequest, 'the PFX holds several private keys; export one identity');
  }
  const key = keys[0]!;
  for (const der of certificates) {
    const certificate = parseCertificate(der);
    if (keysMatch(key.privateKey, certificate.publicKey)) return { key, certificate };
  }
  throw new OutpostError(ErrorCodes.badRequest, 'the PFX holds no certificate for its private key');
}

/**
 * RFC 8550 §4.4.4: with an extendedKeyUsage extension, an S/MIME certificate needs
 * emailProtection (or anyExtendedKeyUsage); without one it may be used for anything.
 */
function checkUsableForSmime(certificate: ParsedCertificate, now: Date): void {
  if (certificate.notAfter.getTime() <= now.getTime()) {
    throw new OutpostError(
      ErrorCodes.badRequest,
      `the PFX certificate expired on ${certificate.notAfter.toISOString()}`,
    );
  }
  const eku = certificate.eku;
  if (eku.length > 0 && !eku.includes(EMAIL_PROTECTION) && !eku.includes(ANY_EKU)) {
    throw new OutpostError(
      ErrorCodes.badRequest,
      `the PFX certificate is not for S/MIME: its extended key usage is ${eku.join(', ')} and lacks emailProtection (RFC 8550 §4.4.4)`,
    );
  }
}
