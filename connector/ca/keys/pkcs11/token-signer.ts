import { createHash, type KeyObject } from 'node:crypto';
import pkcs11js, { type Mechanism } from 'pkcs11js';
import {
  checkPkcs1v15Lengths,
  keyOrSynthetic,
  type OaepHashName,
  type RsaKeyTransportDecrypter,
  rejectionSecretFrom,
  syntheticKey,
} from '../../../../certs/cms/index.js';
import { digestInfo, ecdsaRawToDer } from '../../../../certs/signature-encodings.js';
import type { HashName, Signer } from '../../../../certs/signer.js';
import { ErrorCodes, OutpostError } from '../../../../core/errors.js';
import type { Pkcs11Token } from './pkcs11-token.js';

/**
 * Signs with a private key that stays in the token. The hash is computed here and the token does
 * only the private-key operation with the bare mechanisms every token has: CKM_RSA_PKCS over a
 * DigestInfo (PKCS#11 v2.40 §2.1.6) and CKM_ECDSA over the digest (§2.3.6, r ‖ s turned into DER),
 * so any hash works whatever combined mechanisms (CKM_SHA256_RSA_PKCS, …) a token lacks.
 */
export function tokenSigner(token: Pkcs11Token, keyId: Buffer, publicKey: KeyObject): Signer {
  const keyType = publicKey.asymmetricKeyType === 'ec' ? 'ec' : 'rsa';
  const signatureBytes = maxSignatureBytes(publicKey);
  return {
    keyType,
    publicKey,
    sign(data: Uint8Array, hash: HashName): Buffer {
      const digest = createHash(hash).update(data).digest();
      try {
        return token.withSession((lib, session) => {
          const privateKey = token.privateKey(keyId);
          if (keyType === 'rsa') {
            lib.C_SignInit(session, { mechanism: pkcs11js.CKM_RSA_PKCS }, privateKey);
            return Buffer.from(lib.C_Sign(session, digestInfo(hash, digest), Buffer.alloc(signatureBytes)));
          }
          lib.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, privateKey);
          return ecdsaRawToDer(lib.C_Sign(session, digest, Buffer.alloc(signatureBytes)));
        });
      } catch (cause) {
        throw new OutpostError(ErrorCodes.unavailable, 'the PKCS#11 token could not sign', { cause });
      }
    },
  };
}

function maxSignatureBytes(publicKey: KeyObject): number {
  const details = publicKey.asymmetricKeyDetails;
  if (publicKey.asymmetricKeyType === 'rsa') return Math.ceil((details?.modulusLength ?? 4096) / 8);
  return 2 * 66; // r ‖ s of P-521, the largest curve
}

/** PKCS#11 v2.40 §2.1.8: the OAEP label is given as data (here: empty). pkcs11js has no constant for it. */
const CKZ_DATA_SPECIFIED = 1;

const oaepParams: Record<OaepHashName, { hashAlg: number; mgf: number }> = {
  sha1: { hashAlg: pkcs11js.CKM_SHA_1, mgf: pkcs11js.CKG_MGF1_SHA1 },
  sha256: { hashAlg: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256 },
  sha384: { hashAlg: pkcs11js.CKM_SHA384, mgf: pkcs11js.CKG_MGF1_SHA384 },
  sha512: { hashAlg: pkcs11js.CKM_SHA512, mgf: pkcs11js.CKG_MGF1_SHA512 },
};

/**
 * The message whose signature is the implicit-rejection secret of a token key. It cannot be a
 * CertRep's signed attributes (those are DER starting with 0x31), so no signature the RA hands
 * out reveals it.
 */
const REJECTION_MESSAGE = Buffer.from('outpost implicit rejection secret v1');

/**
 * RSA key transport (RFC 5652 §6.2.1) with the RA key in the token: the token unpads
 * (CKM_RSA_PKCS / CKM_RSA_PKCS_OAEP, not the raw CKM_RSA_X_509 many HSMs refuse), and anything
 * but a key of the expected length (a C_Decrypt error on bad padding, a wrong length) becomes the
 * same synthetic key the file path returns (see certs/cms/recipient-key.ts): the reply is the
 * same failure at content decryption. The synthetic key's secret is the token's own PKCS#1 v1.5
 * signature (deterministic) of a fixed message: stable per key on every node that shares the
 * token, unknowable without the key.
 */
export function tokenDecrypter(
  token: Pkcs11Token,
  keyId: Buffer,
  publicKey: KeyObject,
): RsaKeyTransportDecrypter {
  const modulusBytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  const signer = tokenSigner(token, keyId, publicKey);
  let secret: Buffer | undefined;
  const rejectionSecret = () => {
    secret ??= rejectionSecretFrom(signer.sign(REJECTION_MESSAGE, 'sha256'));
    return secret;
  };
  const decrypt = (mechanism: Mechanism, encryptedKey: Buffer): Buffer | undefined => {
    try {
      return token.withSession((lib, session) => {
        lib.C_DecryptInit(session, mechanism, token.privateKey(keyId));
        return Buffer.from(lib.C_Decrypt(session, encryptedKey, Buffer.alloc(modulusBytes)));
      });
    } catch {
      return undefined; // bad padding, or anything else: the synthetic key below
    }
  };
  return {
    modulusBytes,
    unwrapPkcs1v15(encryptedKey, keyLength) {
      checkPkcs1v15Lengths(modulusBytes, encryptedKey, keyLength);
      const synthetic = syntheticKey(rejectionSecret(), encryptedKey, keyLength);
      return keyOrSynthetic(decrypt({ mechanism: pkcs11js.CKM_RSA_PKCS }, encryptedKey), synthetic);
    },
    unwrapOaep(encryptedKey, keyLength, hash) {
      const synthetic = syntheticKey(rejectionSecret(), encryptedKey, keyLength);
      const parameter = {
        type: pkcs11js.CK_PARAMS_RSA_OAEP,
        ...oaepParams[hash],
        source: CKZ_DATA_SPECIFIED,
      };
      return keyOrSynthetic(
        decrypt({ mechanism: pkcs11js.CKM_RSA_PKCS_OAEP, parameter }, encryptedKey),
        synthetic,
      );
    },
  };
}
