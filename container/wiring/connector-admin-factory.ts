import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { certificateThumbprint, parseCertificate } from '../../certs/certificate.js';
import { toPem } from '../../certs/pem.js';
import { BuiltinCa } from '../../connector/ca/builtin/builtin-ca.js';
import { openDatabase } from '../../connector/store/database.js';
import { SqliteInventory } from '../../connector/store/inventory.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ConnectorAdmin } from '../connector-admin.js';
import { builtinCaOptions, databasePath, openConnectorCore } from './connector-core.js';

const maxImportFileBytes = 1 << 20;

async function readBounded(path: string, what: string): Promise<Buffer> {
  const data = await readFile(path).catch((e: unknown) => {
    throw new OutpostError(ErrorCodes.config, `cannot read the ${what} file ${path}`, { cause: e });
  });
  if (data.length > maxImportFileBytes)
    throw new OutpostError(ErrorCodes.limit, `the ${what} file is too large`);
  return data;
}

function pems(ca: BuiltinCa): { caPem: string; raPem: string } {
  return {
    caPem: toPem('CERTIFICATE', ca.caCertificateDer),
    raPem: toPem('CERTIFICATE', ca.raCertificateDer),
  };
}

/** CA creation and import work on the files and database alone, before any CA exists. */
async function withInventory<T>(
  config: OutpostConfig,
  work: (inventory: SqliteInventory) => Promise<T>,
): Promise<T> {
  const db = openDatabase(databasePath(config));
  try {
    return await work(new SqliteInventory(db));
  } finally {
    db.close();
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
      withInventory(config, async (inventory) => {
        const options = { ...builtinCaOptions(config, inventory), ...(keyAlgorithm ? { keyAlgorithm } : {}) };
        return pems(await BuiltinCa.init(options, { force: force ?? false }));
      }),
    importCa: ({ certFile, keyFile, pkcs12File, passwordFile, force }) =>
      withInventory(config, async (inventory) => {
        if (pkcs12File) {
          if (!passwordFile) throw new OutpostError(ErrorCodes.badRequest, '--pkcs12 needs --password-file');
          const [der, passwordBytes] = await Promise.all([
            readBounded(pkcs12File, 'PKCS#12'),
            readBounded(passwordFile, 'password'),
          ]);
          if (passwordBytes.length > 4096)
            throw new OutpostError(ErrorCodes.limit, 'the password file is larger than 4 KiB');
          // `echo secret > pw.txt` adds one newline; anything else in the file is the password
          const password = passwordBytes.toString('utf8').replace(/\r?\n$/, '');
          const ca = await BuiltinCa.importPkcs12(
            builtinCaOptions(config, inventory),
            { der, password },
            { force: force ?? false },
          );
          return pems(ca);
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
          builtinCaOptions(config, inventory),
          { caCertPem: blocks[0] ?? material, caKeyPem: keyPem.toString('utf8') },
          { force: force ?? false },
        );
        return pems(ca);
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
