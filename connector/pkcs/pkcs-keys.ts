import { ImportKey } from './import-key.js';
import { KeySealer } from './key-sealer.js';

/**
 * The connector's local PKCS keys, each loaded (or created: the import key is an RSA-3072
 * generation) on first use and then kept, so a connector that never sees a PKCS job makes none.
 */
export class PkcsKeys {
  private sealerPromise?: Promise<KeySealer>;
  private importKeyPromise?: Promise<ImportKey>;

  constructor(private readonly dataDir: string) {}

  sealer(): Promise<KeySealer> {
    this.sealerPromise ??= retryOnFailure(KeySealer.open(this.dataDir), () => {
      this.sealerPromise = undefined;
    });
    return this.sealerPromise;
  }

  importKey(): Promise<ImportKey> {
    this.importKeyPromise ??= retryOnFailure(ImportKey.open(this.dataDir), () => {
      this.importKeyPromise = undefined;
    });
    return this.importKeyPromise;
  }
}

/** A failed load (disk full, permissions) is not cached: the next job tries again. */
function retryOnFailure<T>(promise: Promise<T>, forget: () => void): Promise<T> {
  promise.catch(forget);
  return promise;
}
