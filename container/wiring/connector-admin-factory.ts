import { chmod, readFile, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { certificateThumbprint, parseCertificate } from '../../certs/certificate.js';
import { toPem } from '../../certs/pem.js';
import { BuiltinCa } from '../../connector/ca/builtin/builtin-ca.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ConnectorAdmin } from '../connector-admin.js';
import { builtinCaOptions, caDirectory, openConnectorCore } from './connector-core.js';
import { openConnectorState } from './connector-state.js';
import { openKeyStore } from './key-store-factory.js';

const maxImportFileBytes = 1 << 20;

async function readBounded(path: string, what: string): Promise<Buffer> {
  const data = await readFile(path).catch((e: unknown) => {
    throw new OutpostError(ErrorCodes.config, `cannot read the ${what} file ${path}`, { cause: e });
  });
  if (data.length > maxImportFileBytes)
    throw new OutpostError(ErrorCodes.limit, `the ${what} file is too large`);
  return data;
}

/**
 * A PKCS#12 password: given (the CLI prompted for it) or read from a file, where `echo secret >
 * pw.txt` adds one newline and anything else in the file is the password.
 */
async function resolvePassword({ passwordFile, password }: { passwordFile?: string; password?: string }) {
  if (password !== undefined) return password;
  if (!passwordFile) throw new OutpostError(ErrorCodes.badRequest, 'a PKCS#12 password is needed');
  const bytes = await readBounded(passwordFile, 'password');
  if (bytes.length > 4096) throw new OutpostError(ErrorCodes.limit, 'the password file is larger than 4 KiB');
  return bytes.toString('utf8').replace(/\r?\n$/, '');
}

function pems(ca: BuiltinCa): { caPem: string; raPem: string } {
  return {
    caPem: toPem('CERTIFICATE', ca.caCertificateDer),
    raPem: toPem('CERTIFICATE', ca.raCertificateDer),
  };
}

/**
 * CA creation and import work on the key store and database alone, before any CA exists; the
 * options carry the store, closed when the work is done.
 */
async function withCaOptions<T>(
  config: OutpostConfig,
  logger: Logger,
  work: (options: ReturnType<typeof builtinCaOptions>) => Promise<T>,
): Promise<T> {
  const state = await openConnectorState(config, logger);
  try {
    const keyStore = await openKeyStore(config, caDirectory(config));
    try {
      return await work(builtinCaOptions(config, state, keyStore));
    } finally {
      keyStore.close();
    }
  } finally {
    await state.close();
  }
}

/** The CLI's view of the connector, over the same data directory a running appliance uses. */
export async function openConnectorAdmin(config: OutpostConfig, logger: Logger): Promise<ConnectorAdmin> {
  let core: Awaited<ReturnType<typeof openConnectorCore>> | undefined;
  const opened = async () => {
    core ??= await openConnectorCore(config, logger);
    return core;
  };
  return {
    initCa: ({ keyAlgorithm, force }) =>
      withCaOptions(config, logger, async (caOptions) => {
        const options = { ...caOptions, ...(keyAlgorithm ? { keyAlgorithm } : {}) };
        return pems(await BuiltinCa.init(options, { force: force ?? false }));
      }),
    importCa: ({ certFile, keyFile, pkcs12File, passwordFile, password: given, force }) =>
      withCaOptions(config, logger, async (caOptions) => {
        if (pkcs12File) {
          const [der, password] = await Promise.all([
            readBounded(pkcs12File, 'PKCS#12'),
            resolvePassword({ passwordFile, password: given }),
          ]);
          return pems(await BuiltinCa.importPkcs12(caOptions, { der, password }, { force: force ?? false }));
        }
        if (!certFile || !keyFile)
          throw new OutpostError(ErrorCodes.badRequest, 'both --cert and --key are needed');
        const [certPem, keyPem] = await Promise.all([
          readBounded(certFile, 'certificate'),
          readBounded(keyFile, 'key'),
        ]);
        const material = certPem.toString('utf8');
        const blocks = material.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
        const ca = await BuiltinCa.importPem(
          caOptions,
          { caCertPem: blocks[0] ?? material, caKeyPem: keyPem.toString('utf8') },
          { force: force ?? false },
        );
        return pems(ca);
      }),
    exportCa: ({ file, passwordFile, password: given, force }) =>
      withCaOptions(config, logger, async (caOptions) => {
        if (!(await caOptions.keyStore.hasAny(['ca']))) {
          throw new OutpostError(ErrorCodes.notFound, 'there is no CA to export (outpost ca init makes one)');
        }
        const password = await resolvePassword({ passwordFile, password: given });
        const ca = await BuiltinCa.open(caOptions);
        const der = await ca.exportPkcs12(password);
        // 0600 like every key file; without --force an existing file is not replaced
        await writeFile(file, der, { mode: 0o600, flag: force ? 'w' : 'wx' }).catch((cause: unknown) => {
          const exists = (cause as NodeJS.ErrnoException).code === 'EEXIST';
          throw new OutpostError(
            exists ? ErrorCodes.conflict : ErrorCodes.config,
            exists ? `${file} exists (use --force to replace it)` : `cannot write ${file}`,
            { cause },
          );
        });
        await chmod(file, 0o600);
        return { file, caSubject: ca.caCertificate.subject.text };
      }),
    caInfo: async () => {
      const { ca } = await opened();
      const cert = parseCertificate(ca.caCertificateDer);
      return {
        subject: cert.subject.text,
        notAfter: cert.notAfter,
        fingerprintSha256: certificateThumbprint(ca.caCertificateDer),
        keyType: ca.caSigner.keyType,
        caPem: toPem('CERTIFICATE', ca.caCertificateDer),
      };
    },
    mintChallenge: async ({ ttlSeconds, profile }) => {
      const c = await opened();
      if (!config.connector.scep.challenge.oneTime) {
        throw new OutpostError(
          ErrorCodes.config,
          'one-time challenges are disabled (connector.scep.challenge.oneTime)',
        );
      }
      if (profile && !Object.hasOwn(config.connector.profiles, profile)) {
        throw new OutpostError(ErrorCodes.notFound, `unknown profile ${profile}`);
      }
      return c.challenges.mintOneTime(ttlSeconds, profile);
    },
    listCertificates: async (filter) => (await opened()).inventory.list(filter),
    revoke: async (serialHex, reason) => (await opened()).revocation.revoke(serialHex, reason),
    listPending: async () => (await opened()).pending.list('pending'),
    approve: async (transactionId) => (await opened()).authority.approve(transactionId),
    reject: async (transactionId) => (await opened()).authority.reject(transactionId),
    close: async () => core?.close(),
  };
}
