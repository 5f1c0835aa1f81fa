import { createPublicKey, type KeyObject } from 'node:crypto';
import pkcs11js, { type Template } from 'pkcs11js';
import { objectIdentifier, octetString } from '../../../../certs/der-writer.js';
import type { KeyAlgorithm } from '../../../../certs/keys.js';
import { ErrorCodes, OutpostError } from '../../../../core/errors.js';
import type { Pkcs11Token } from './pkcs11-token.js';

const curves = {
  'P-256': { oid: '1.2.840.10045.3.1.7', bytes: 32 },
  'P-384': { oid: '1.3.132.0.34', bytes: 48 },
} as const;
type CurveName = keyof typeof curves;

const curveOf: Partial<Record<KeyAlgorithm, CurveName>> = { 'ec-p256': 'P-256', 'ec-p384': 'P-384' };

/** The handles of a key pair in the token, found by their shared CKA_ID. */
export interface TokenKeyPair {
  id: Buffer;
  privateKey: Buffer;
  publicKey: KeyObject;
}

/**
 * What every private key Outpost puts in a token carries: a token object (CKA_TOKEN, it survives
 * the session), private (readable only after login), sensitive and not extractable (PKCS#11
 * v2.40 §4.9: its value never leaves the token, not even wrapped).
 */
function privateTemplate(id: Buffer, label: string, rsa: boolean): Template {
  return [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_SIGN, value: true },
    // only RSA keys decrypt (the SCEP RA's key transport); a token refuses CKA_DECRYPT on EC keys
    ...(rsa ? [{ type: pkcs11js.CKA_DECRYPT, value: true }] : []),
    { type: pkcs11js.CKA_ID, value: id },
    { type: pkcs11js.CKA_LABEL, value: label },
  ];
}

function publicTemplate(id: Buffer, label: string, rsa: boolean): Template {
  return [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_VERIFY, value: true },
    ...(rsa ? [{ type: pkcs11js.CKA_ENCRYPT, value: true }] : []),
    { type: pkcs11js.CKA_ID, value: id },
    { type: pkcs11js.CKA_LABEL, value: label },
  ];
}

/** Generates the pair inside the token: the private key is never outside it. */
export function generateInToken(
  token: Pkcs11Token,
  algorithm: KeyAlgorithm,
  id: Buffer,
  label: string,
): TokenKeyPair {
  const curve = curveOf[algorithm];
  const rsa = curve === undefined;
  const mechanism = { mechanism: rsa ? pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN : pkcs11js.CKM_EC_KEY_PAIR_GEN };
  const publicExtra: Template = rsa
    ? [
        { type: pkcs11js.CKA_MODULUS_BITS, value: Number(algorithm.slice(4)) },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
      ]
    : [{ type: pkcs11js.CKA_EC_PARAMS, value: objectIdentifier(curves[curve].oid) }];
  try {
    const pair = token.withSession((lib, session) =>
      lib.C_GenerateKeyPair(
        session,
        mechanism,
        [...publicTemplate(id, label, rsa), ...publicExtra],
        privateTemplate(id, label, rsa),
      ),
    );
    return { id, privateKey: pair.privateKey, publicKey: readPublicKey(token, pair.publicKey) };
  } catch (cause) {
    if (cause instanceof OutpostError) throw cause;
    throw new OutpostError(ErrorCodes.keyStore, `the PKCS#11 token could not generate an ${algorithm} key`, {
      cause,
    });
  }
}

const b64 = (text: string | undefined): Buffer => Buffer.from(text ?? '', 'base64url');

/**
 * Creates an existing private key in the token (an import), sensitive and not extractable from
 * then on, with its public key beside it.
 */
export function importIntoToken(
  token: Pkcs11Token,
  privateKey: KeyObject,
  id: Buffer,
  label: string,
): TokenKeyPair {
  const jwk = privateKey.export({ format: 'jwk' });
  const rsa = jwk.kty === 'RSA';
  const curve = jwk.crv as CurveName | undefined;
  if (!rsa && (jwk.kty !== 'EC' || !curve || !(curve in curves))) {
    throw new OutpostError(
      ErrorCodes.unsupportedAlgorithm,
      'only RSA, P-256 and P-384 keys go into the token',
    );
  }
  const keyType = { type: pkcs11js.CKA_KEY_TYPE, value: rsa ? pkcs11js.CKK_RSA : pkcs11js.CKK_EC };
  const privateParts: Template = rsa
    ? [
        { type: pkcs11js.CKA_MODULUS, value: b64(jwk.n) },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: b64(jwk.e) },
        { type: pkcs11js.CKA_PRIVATE_EXPONENT, value: b64(jwk.d) },
        { type: pkcs11js.CKA_PRIME_1, value: b64(jwk.p) },
        { type: pkcs11js.CKA_PRIME_2, value: b64(jwk.q) },
        { type: pkcs11js.CKA_EXPONENT_1, value: b64(jwk.dp) },
        { type: pkcs11js.CKA_EXPONENT_2, value: b64(jwk.dq) },
        { type: pkcs11js.CKA_COEFFICIENT, value: b64(jwk.qi) },
      ]
    : [
        { type: pkcs11js.CKA_EC_PARAMS, value: objectIdentifier(curves[curve!].oid) },
        { type: pkcs11js.CKA_VALUE, value: b64(jwk.d) },
      ];
  const publicParts: Template = rsa
    ? [
        { type: pkcs11js.CKA_MODULUS, value: b64(jwk.n) },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: b64(jwk.e) },
      ]
    : [
        { type: pkcs11js.CKA_EC_PARAMS, value: objectIdentifier(curves[curve!].oid) },
        // CKA_EC_POINT is the DER OCTET STRING of the uncompressed point (PKCS#11 v2.40 §2.3.3)
        {
          type: pkcs11js.CKA_EC_POINT,
          value: octetString(Buffer.concat([Buffer.from([4]), b64(jwk.x), b64(jwk.y)])),
        },
      ];
  try {
    const create = (template: Template) =>
      token.withSession((lib, session) => lib.C_CreateObject(session, template));
    const publicHandle = create([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      keyType,
      ...publicTemplate(id, label, rsa),
      ...publicParts,
    ]);
    const privateHandle = create([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      keyType,
      ...privateTemplate(id, label, rsa),
      ...privateParts,
    ]);
    return { id, privateKey: privateHandle, publicKey: readPublicKey(token, publicHandle) };
  } catch (cause) {
    throw new OutpostError(ErrorCodes.keyStore, 'the PKCS#11 token refused the imported key', { cause });
  }
}

/** The public key of a token public-key object, as a node:crypto KeyObject. */
export function readPublicKey(token: Pkcs11Token, handle: Buffer): KeyObject {
  const [type] = attributeBuffers(token, handle, [pkcs11js.CKA_KEY_TYPE]);
  if (ulong(type!) === pkcs11js.CKK_RSA) {
    const [n, e] = attributeBuffers(token, handle, [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT]);
    return createPublicKey({
      key: { kty: 'RSA', n: n!.toString('base64url'), e: e!.toString('base64url') },
      format: 'jwk',
    });
  }
  const [params, point] = attributeBuffers(token, handle, [pkcs11js.CKA_EC_PARAMS, pkcs11js.CKA_EC_POINT]);
  const crv = (Object.keys(curves) as CurveName[]).find((c) =>
    objectIdentifier(curves[c].oid).equals(params!),
  );
  if (!crv) throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'token key on an unsupported curve');
  const size = curves[crv].bytes;
  // the uncompressed point 04 ‖ x ‖ y, inside a DER OCTET STRING (some tokens leave the wrapper off)
  const uncompressed = point!.subarray(point!.length - (1 + 2 * size));
  return createPublicKey({
    key: {
      kty: 'EC',
      crv,
      x: uncompressed.subarray(1, 1 + size).toString('base64url'),
      y: uncompressed.subarray(1 + size).toString('base64url'),
    },
    format: 'jwk',
  });
}

/** A CK_ULONG attribute in the platform's byte order (little-endian on the machines Outpost runs on). */
function ulong(bytes: Buffer): number {
  return bytes.length === 8 ? Number(bytes.readBigUInt64LE(0)) : bytes.readUInt32LE(0);
}

/** Handles of the objects of `objectClass` whose attributes equal those given. */
export function findObjects(token: Pkcs11Token, objectClass: number, match: Template): Buffer[] {
  return token.withSession((lib, session) => {
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: objectClass }, ...match]);
    try {
      return lib.C_FindObjects(session, 64);
    } finally {
      lib.C_FindObjectsFinal(session);
    }
  });
}

/** A certificate object (CKC_X_509) with the key's CKA_ID, so that tools show the pair together. */
export function createCertificateObject(
  token: Pkcs11Token,
  cert: { der: Buffer; subjectDer: Buffer },
  id: Buffer,
  label: string,
): Buffer {
  return token.withSession((lib, session) =>
    lib.C_CreateObject(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
      { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_SUBJECT, value: cert.subjectDer },
      { type: pkcs11js.CKA_VALUE, value: cert.der },
      { type: pkcs11js.CKA_ID, value: id },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]),
  );
}

/** Attribute values as bytes, in the order asked (an absent one is an empty buffer). */
export function attributeBuffers(token: Pkcs11Token, handle: Buffer, types: number[]): Buffer[] {
  const values = token.withSession((lib, session) =>
    lib.C_GetAttributeValue(
      session,
      handle,
      types.map((type) => ({ type })),
    ),
  );
  return values.map((a) => (Buffer.isBuffer(a.value) ? Buffer.from(a.value) : Buffer.alloc(0)));
}
