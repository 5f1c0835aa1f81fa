import { createCipheriv, createDecipheriv, createPrivateKey, type KeyObject, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { PkcsFiles, pkcsDirectory } from './pkcs-files.js';
import { readOrCreatePrivateFile } from './private-file.js';

const KEY_BYTES = 32;
const IV_BYTES = 12; // NIST SP 800-38D §8.2: 96-bit random IVs
const TAG_BYTES = 16;
/** Format marker and version of a sealed blob, so that a future format can be told apart. */
const MAGIC = Buffer.from('OPK1');

/**
 * Seals private keys for the job checkpoint store with AES-256-GCM under an appliance-local key
 * (`DATA/pkcs/seal.key`): the link journal holds checkpoints, and a private key must not sit there
 * (or in a backup of the database) in clear. The job id is the additional authenticated data, so
 * a sealed key cannot be moved to another job.
 *
 *   sealed = "OPK1" || IV (12) || tag (16) || AES-256-GCM(PKCS#8 DER)
 */
export class KeySealer {
  private constructor(private readonly key: Buffer) {}

  /** Loads the sealing key, creating it on first use. */
  static async open(dataDir: string): Promise<KeySealer> {
    const path = join(pkcsDirectory(dataDir), PkcsFiles.sealKey);
    const key = await readOrCreatePrivateFile(path, async () => randomBytes(KEY_BYTES));
    if (key.length !== KEY_BYTES) {
      throw new OutpostError(ErrorCodes.config, 'the checkpoint sealing key file is damaged', {
        detail: path,
      });
    }
    return new KeySealer(key);
  }

  /** For tests: a sealer with a given key. */
  static withKey(key: Buffer): KeySealer {
    if (key.length !== KEY_BYTES) throw new RangeError('sealing key must be 32 bytes');
    return new KeySealer(Buffer.from(key));
  }

  seal(privateKey: KeyObject, jobId: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv).setAAD(aad(jobId));
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    const ciphertext = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
    pkcs8.fill(0);
    return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), ciphertext]);
  }

  /** Throws `internal` (not retryable) when the blob is not ours, was altered or belongs to another job. */
  unseal(sealed: Buffer, jobId: string): KeyObject {
    const body = MAGIC.length + IV_BYTES + TAG_BYTES;
    if (sealed.length <= body || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) throw unsealFailed();
    const iv = sealed.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
    const tag = sealed.subarray(MAGIC.length + IV_BYTES, body);
    let pkcs8: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv).setAAD(aad(jobId)).setAuthTag(tag);
      pkcs8 = Buffer.concat([decipher.update(sealed.subarray(body)), decipher.final()]);
    } catch (cause) {
      throw unsealFailed(cause);
    }
    try {
      return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    } finally {
      pkcs8.fill(0);
    }
  }
}

function aad(jobId: string): Buffer {
  return Buffer.from(`outpost pkcs checkpoint\0${jobId}`, 'utf8');
}

function unsealFailed(cause?: unknown): OutpostError {
  return new OutpostError(
    ErrorCodes.internal,
    'the checkpointed key of this job cannot be unsealed (sealing key changed or checkpoint damaged)',
    { cause },
  );
}
