import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  privateDecrypt,
} from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { PkcsFiles, pkcsDirectory } from './pkcs-files.js';
import { readOrCreatePrivateFile } from './private-file.js';

const generate = promisify(generateKeyPair);

/** How admins encrypt a PFX password to the import key (`outpost pfx encrypt` does exactly this). */
export const IMPORT_PASSWORD_ENCRYPTION = { name: 'RSA-OAEP-SHA512', oaepHash: 'sha512' } as const;

/**
 * The connector's PFX import key: RSA-3072 (`DATA/pkcs/import.key`, 0600, created on first use).
 * An admin encrypts a PFX's password to its public half, so the password crosses the cloud only
 * as ciphertext that this appliance alone can open. Its id is the SHA-256 of the SPKI DER (hex),
 * which a job names so that a password encrypted to an older key is refused with a clear reason.
 */
export class ImportKey {
  readonly id: string;
  readonly publicKey: KeyObject;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKey = createPublicKey(privateKey);
    this.id = importKeyId(this.publicKey);
  }

  static async open(dataDir: string): Promise<ImportKey> {
    const path = join(pkcsDirectory(dataDir), PkcsFiles.importKey);
    const pem = await readOrCreatePrivateFile(path, async () => {
      const { privateKey } = await generate('rsa', { modulusLength: 3072, publicExponent: 0x10001 });
      return Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    });
    try {
      return new ImportKey(createPrivateKey(pem));
    } catch (cause) {
      throw new OutpostError(ErrorCodes.config, 'the PFX import key file is damaged', {
        cause,
        detail: path,
      });
    }
  }

  /** For tests: an import key from a key object. */
  static fromPrivateKey(privateKey: KeyObject): ImportKey {
    return new ImportKey(privateKey);
  }

  get publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  }

  /**
   * Decrypts an RSA-OAEP-SHA512 ciphertext (RFC 8017 §7.1.2). OAEP decryption is not affected by
   * Node 20's PKCS#1 v1.5 restriction; its failures say nothing about the plaintext, so one
   * non-retryable `decrypt` error covers them all.
   */
  decrypt(ciphertext: Buffer): Buffer {
    try {
      return privateDecrypt(
        {
          key: this.privateKey,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: IMPORT_PASSWORD_ENCRYPTION.oaepHash,
        },
        ciphertext,
      );
    } catch (cause) {
      throw new OutpostError(
        ErrorCodes.decrypt,
        'the PFX password cannot be decrypted with the import key (expected RSA-OAEP-SHA512 to this key)',
        { cause },
      );
    }
  }
}

/** SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex. */
export function importKeyId(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}
