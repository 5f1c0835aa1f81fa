import { z } from 'zod';
import { filePath } from './schema-common.js';

/**
 * Where the built-in CA's private keys (CA, SCEP RA, OCSP responder) live: `file` (PEM files in
 * <dataDir>/ca, 0600) or `pkcs11` (a token: keys generated in it by `outpost ca init`, or imported
 * into it, never leave it; their certificates are kept in the token as well).
 */
export const keysSchema = z
  .strictObject({
    store: z.enum(['file', 'pkcs11']).default('file'),
    pkcs11: z
      .strictObject({
        /** The PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so. */
        module: filePath,
        /** The label the token was initialized with. */
        tokenLabel: z.string().min(1).max(32),
        /** The user PIN is read from this file (a mounted secret), never written in the config. */
        pinFile: filePath,
      })
      .optional(),
  })
  .superRefine((keys, ctx) => {
    if (keys.store === 'pkcs11' && keys.pkcs11 === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['pkcs11'],
        input: undefined,
        message: 'expected { module, tokenLabel, pinFile } when store is pkcs11',
      });
    }
  });
