import type { RecipientKey } from '../../../certs/cms/index.js';
import type { Signer } from '../../../certs/signer.js';

/**
 * The registration authority credentials SCEP needs (RFC 8894 §2.1): clients encrypt to the RA
 * certificate and the RA signs every CertRep. GetCACert returns `[ra, ...caChain]`.
 */
export interface ScepRa {
  certDer: Buffer;
  /** Decrypts requests: a node:crypto key, or a decrypter over an RA key in a PKCS#11 token. */
  privateKey: RecipientKey;
  signer: Signer;
  /** Issuing CA first, root last. */
  caChainDer: Buffer[];
  /** The CRL to answer GetCRL with, if any. */
  currentCrl(): Buffer | undefined;
}
