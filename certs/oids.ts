/**
 * Object identifiers used across certs/. One place, so that the name ↔ OID maps used by
 * profiles, CSR parsing and certificate building cannot drift apart.
 */
export const Oid = {
  // Attribute types (RFC 4519 / X.520)
  commonName: '2.5.4.3',
  surname: '2.5.4.4',
  serialNumber: '2.5.4.5',
  countryName: '2.5.4.6',
  localityName: '2.5.4.7',
  stateOrProvinceName: '2.5.4.8',
  streetAddress: '2.5.4.9',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  title: '2.5.4.12',
  givenName: '2.5.4.42',
  dnQualifier: '2.5.4.46',
  domainComponent: '0.9.2342.19200300.100.1.25',
  userId: '0.9.2342.19200300.100.1.1',
  emailAddress: '1.2.840.113549.1.9.1',

  // PKCS#9 attributes (RFC 2985)
  challengePassword: '1.2.840.113549.1.9.7',
  extensionRequest: '1.2.840.113549.1.9.14',

  // Certificate extensions (RFC 5280 §4.2)
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  crlReason: '2.5.29.21',
  crlDistributionPoints: '2.5.29.31',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  accessOcsp: '1.3.6.1.5.5.7.48.1',
  // OCSP (RFC 6960 §4.2.1, §4.2.2.2.1; RFC 8954 nonce)
  ocspBasic: '1.3.6.1.5.5.7.48.1.1',
  ocspNonce: '1.3.6.1.5.5.7.48.1.2',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',

  // otherName types
  msUpn: '1.3.6.1.4.1.311.20.2.3',

  // Public key algorithms
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  secp521r1: '1.3.132.0.35',

  // Signature algorithms
  sha1WithRSAEncryption: '1.2.840.113549.1.1.5',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  ecdsaWithSHA1: '1.2.840.10045.4.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  mgf1: '1.2.840.113549.1.1.8',

  // Hashes
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;

/** Extended key usage purposes (RFC 5280 §4.2.1.12 and vendor OIDs seen in MDM profiles). */
export const EKU_OIDS: Readonly<Record<string, string>> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  ipsecEndSystem: '1.3.6.1.5.5.7.3.5',
  ipsecTunnel: '1.3.6.1.5.5.7.3.6',
  ipsecUser: '1.3.6.1.5.5.7.3.7',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  ipsecIKE: '1.3.6.1.5.5.7.3.17',
  anyExtendedKeyUsage: '2.5.29.37.0',
  msSmartcardLogin: '1.3.6.1.4.1.311.20.2.2',
  msEfs: '1.3.6.1.4.1.311.10.3.4',
  msDocumentSigning: '1.3.6.1.4.1.311.10.3.12',
};

const EKU_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(EKU_OIDS).map(([name, oid]) => [oid, name]),
);

/** KeyUsage bit positions (RFC 5280 §4.2.1.3): bit 0 is the most significant bit of the first byte. */
export const KEY_USAGE_BITS: Readonly<Record<string, number>> = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
};

const KEY_USAGE_NAMES: readonly string[] = Object.entries(KEY_USAGE_BITS)
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name);

const DOTTED_OID = /^[0-2](\.(0|[1-9][0-9]*))+$/;

export function isDottedOid(s: string): boolean {
  return DOTTED_OID.test(s);
}

/** EKU name → OID; a dotted OID passes through; undefined when neither. */
export function ekuOid(nameOrOid: string): string | undefined {
  if (Object.hasOwn(EKU_OIDS, nameOrOid)) return EKU_OIDS[nameOrOid];
  return isDottedOid(nameOrOid) ? nameOrOid : undefined;
}

/** EKU OID → name, or the dotted OID itself when it has no name here. */
export function ekuName(oid: string): string {
  return Object.hasOwn(EKU_NAMES, oid) ? EKU_NAMES[oid]! : oid;
}

export function isKeyUsageName(name: string): boolean {
  return Object.hasOwn(KEY_USAGE_BITS, name);
}

/** Key usage names for the bits set in a DER BIT STRING value (bytes after the unused-bits octet). */
export function keyUsageNamesFromBits(bytes: Uint8Array): string[] {
  const names: string[] = [];
  KEY_USAGE_NAMES.forEach((name, bit) => {
    const byte = bytes[bit >> 3] ?? 0;
    if (byte & (0x80 >> (bit & 7))) names.push(name);
  });
  return names;
}

/** Short names used in RFC 4514 strings (§3) plus the ones OpenSSL prints; others print as dotted OIDs. */
export const DN_SHORT_NAMES: Readonly<Record<string, string>> = {
  [Oid.commonName]: 'CN',
  [Oid.surname]: 'SN',
  [Oid.serialNumber]: 'serialNumber',
  [Oid.countryName]: 'C',
  [Oid.localityName]: 'L',
  [Oid.stateOrProvinceName]: 'ST',
  [Oid.streetAddress]: 'STREET',
  [Oid.organizationName]: 'O',
  [Oid.organizationalUnitName]: 'OU',
  [Oid.title]: 'title',
  [Oid.givenName]: 'GN',
  [Oid.dnQualifier]: 'dnQualifier',
  [Oid.domainComponent]: 'DC',
  [Oid.userId]: 'UID',
  [Oid.emailAddress]: 'emailAddress',
};

const DN_TYPES_BY_UPPER_NAME: Readonly<Record<string, string>> = Object.fromEntries([
  ...Object.entries(DN_SHORT_NAMES).map(([oid, name]) => [name.toUpperCase(), oid]),
  ['E', Oid.emailAddress],
  ['EMAIL', Oid.emailAddress],
  ['SURNAME', Oid.surname],
  ['GIVENNAME', Oid.givenName],
  ['USERID', Oid.userId],
]);

/** Attribute type (short name, case-insensitive, or dotted OID, optionally "OID."-prefixed) → OID. */
export function dnAttributeOid(type: string): string | undefined {
  const t = type.trim();
  const dotted = t.toUpperCase().startsWith('OID.') ? t.slice(4) : t;
  if (isDottedOid(dotted)) return dotted;
  return DN_TYPES_BY_UPPER_NAME[t.toUpperCase()];
}
