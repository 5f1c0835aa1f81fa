import type { KeyObject } from 'node:crypto';
import type { ParsedCertificate } from '../../certs/certificate.js';
import { Oid } from '../../certs/oids.js';
import { type Pkcs12Protection, writePkcs12 } from '../../certs/pkcs12/write-pkcs12.js';
import { DEVICE_PASSWORD_ENCRYPTION, encryptToDevice } from './device-key.js';
import { randomPassword } from './random-password.js';

/** A PKCS#12 for one device and its password, readable by that device only. */
export interface DevicePackage {
  pfx: Buffer;
  /** The PKCS#12 password encrypted to the device key. */
  encryptedPassword: Buffer;
  passwordEncryption: typeof DEVICE_PASSWORD_ENCRYPTION;
}

export interface PackageContent {
  privateKey: KeyObject;
  certificate: ParsedCertificate;
  /** Issuing CA first. */
  chain: readonly Buffer[];
  friendlyName?: string;
}

/**
 * Wraps key, certificate and chain in a PKCS#12 under a fresh random password and encrypts the
 * password to the device. The password exists only here, in memory; the private key leaves the
 * appliance only inside the PKCS#12.
 */
export function wrapForDevice(
  content: PackageContent,
  deviceKey: KeyObject,
  protection: Pkcs12Protection,
): DevicePackage {
  const password = randomPassword();
  const pfx = writePkcs12(
    {
      privateKey: content.privateKey,
      certificate: content.certificate.der,
      chain: content.chain,
      friendlyName: content.friendlyName ?? defaultFriendlyName(content.certificate),
    },
    password,
    { protection },
  );
  return {
    pfx,
    encryptedPassword: encryptToDevice(deviceKey, password),
    passwordEncryption: DEVICE_PASSWORD_ENCRYPTION,
  };
}

/** The subject's most specific CN (what key stores list), else the whole subject. */
function defaultFriendlyName(certificate: ParsedCertificate): string {
  const cn = certificate.subject.rdns
    .flat()
    .filter((a) => a.oid === Oid.commonName)
    .at(-1);
  return cn?.value ?? (certificate.subject.text || certificate.serialHex);
}
