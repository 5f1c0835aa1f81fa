import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseCertificate } from '../../certs/certificate.js';
import { buildCsr, parseCsr } from '../../certs/csr.js';
import { generateKeyPair, keysMatch, privateKeyToPem } from '../../certs/keys.js';
import { firstDer, toPem } from '../../certs/pem.js';
import { readPkcs12 } from '../../certs/pkcs12/index.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { parseListenAddress } from '../config/listen-address.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ConnectorCore } from './connector-core.js';

export interface GatewayTlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Where they came from, for the log. */
  source: string;
}

const renewBeforeMs = 30 * 24 * 3600 * 1000;

/**
 * The gateway's server certificate: the configured PEM files, or — when `gateway.tls` is absent —
 * one issued by the built-in CA on first start (ECDSA P-256, serverAuth, SANs for the host name
 * and the listen address) and kept under dataDir/gateway, renewed 30 days before it expires.
 */
export async function gatewayTls(
  config: OutpostConfig,
  core: ConnectorCore,
  logger: Logger,
): Promise<GatewayTlsMaterial> {
  const configured = config.gateway.tls;
  if (configured) return readConfiguredTls(configured);
  const dir = join(config.dataDir, 'gateway');
  const certFile = join(dir, 'tls.pem');
  const keyFile = join(dir, 'tls.key');
  const existing = await readExisting(certFile, keyFile);
  if (existing) return existing;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const issued = await issueServerCertificate(config, core);
  await writePrivate(keyFile, issued.key);
  await writePrivate(certFile, issued.cert);
  logger.info({ component: 'gateway', cert: certFile }, 'gateway TLS certificate issued by the built-in CA');
  return { ...issued, source: certFile };
}

async function readExisting(certFile: string, keyFile: string): Promise<GatewayTlsMaterial | undefined> {
  try {
    const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    const parsed = parseCertificate(firstDer(cert.toString('utf8'), 'CERTIFICATE'));
    if (parsed.notAfter.getTime() - Date.now() < renewBeforeMs) return undefined;
    return { cert, key, source: certFile };
  } catch {
    return undefined;
  }
}

async function issueServerCertificate(
  config: OutpostConfig,
  core: ConnectorCore,
): Promise<{ cert: Buffer; key: Buffer }> {
  const pair = await generateKeyPair('ec-p256');
  const host = hostname();
  const listen = parseListenAddress(config.gateway.listen);
  const ips = listen && !['0.0.0.0', '::'].includes(listen.host) ? [listen.host] : [];
  const csr = parseCsr(buildCsr(`CN=${host}`, pair, { sans: { dns: [host], ip: ips } }));
  const issued = await core.ca.issue({
    csr,
    profile: { name: 'gateway-tls', validityDays: 397, keyUsage: ['digitalSignature'], eku: ['serverAuth'] },
    requester: 'gateway',
  });
  core.inventory.record({
    serialHex: issued.serialHex,
    subject: csr.subject.text,
    sans: [`dns:${host}`, ...ips.map((ip) => `ip:${ip}`)],
    profile: 'gateway-tls',
    requester: 'gateway',
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
    status: 'valid',
    thumbprint: createHash('sha256').update(issued.der).digest('hex'),
    der: issued.der,
  });
  const chain = toPem('CERTIFICATE', issued.der) + toPem('CERTIFICATE', core.ca.caCertificateDer);
  return { cert: Buffer.from(chain), key: Buffer.from(privateKeyToPem(pair.privateKey)) };
}

/** Written 0600 from the start (temp file + rename), never readable in between; like every file in the data directory. */
async function writePrivate(file: string, data: Buffer): Promise<void> {
  const temp = `${file}.tmp`;
  await writeFile(temp, data, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
}

type TlsFiles = NonNullable<OutpostConfig['gateway']['tls']>;

/** The files `watchTlsFiles` watches for a configured certificate. */
export function tlsFilesOf(files: TlsFiles): string[] {
  return files.pkcs12 ? [files.pkcs12, files.passwordFile!] : [files.cert!, files.key!];
}

/** Reads the configured PEM pair or PKCS#12 file (hot reload reads it again through here). */
export async function readConfiguredTls(files: TlsFiles): Promise<GatewayTlsMaterial> {
  try {
    if (files.pkcs12) {
      const [der, password] = await Promise.all([
        readFile(files.pkcs12),
        readFile(files.passwordFile!, 'utf8'),
      ]);
      return { ...pkcs12ToPem(der, password.replace(/\r?\n$/, '')), source: files.pkcs12 };
    }
    const [cert, key] = await Promise.all([readFile(files.cert!), readFile(files.key!)]);
    return { cert, key, source: files.cert! };
  } catch (e) {
    throw new OutpostError(ErrorCodes.config, 'gateway.tls: cannot load the certificate and key', {
      cause: e,
      detail: e instanceof Error ? e.message : String(e),
    });
  }
}

/** The leaf whose key is in the file comes first, then the other certificates as its chain. */
function pkcs12ToPem(der: Buffer, password: string): { cert: Buffer; key: Buffer } {
  const contents = readPkcs12(der, password);
  for (const { privateKey } of contents.keys) {
    const leaf = contents.certificates.find((c) => keysMatch(privateKey, parseCertificate(c).publicKey));
    if (!leaf) continue;
    const chain = [leaf, ...contents.certificates.filter((c) => c !== leaf)];
    return {
      cert: Buffer.from(chain.map((c) => toPem('CERTIFICATE', c)).join('')),
      key: Buffer.from(privateKeyToPem(privateKey)),
    };
  }
  throw new OutpostError(ErrorCodes.config, 'gateway.tls.pkcs12 holds no certificate with its private key');
}
