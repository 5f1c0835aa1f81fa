import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
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
/** 397 days: within the 2 years Apple's clients accept for a server certificate (and CA/B's 398). */
const validityDays = 397;

type TlsFiles = NonNullable<OutpostConfig['gateway']['tls']>;

/** The configured certificate files, if `gateway.tls` names files rather than only `names`. */
export function configuredTlsFiles(config: OutpostConfig): TlsFiles | undefined {
  const tls = config.gateway.tls;
  return tls && (tls.cert !== undefined || tls.pkcs12 !== undefined) ? tls : undefined;
}

/**
 * The names the built-in CA's gateway certificate carries: `gateway.tls.names`, or the host name
 * (which the compose file sets from OUTPOST_PUBLIC_HOST; Docker's default is the container ID)
 * plus the listen address when it is a specific one.
 */
export function selfIssuedTlsNames(
  config: OutpostConfig,
  host: string = hostname(),
): { dns: string[]; ip: string[] } {
  const listen = parseListenAddress(config.gateway.listen);
  const names = config.gateway.tls?.names ?? [
    host,
    ...(listen && !['0.0.0.0', '::'].includes(listen.host) ? [listen.host] : []),
  ];
  return { dns: names.filter((n) => isIP(n) === 0), ip: names.filter((n) => isIP(n) !== 0) };
}

/**
 * The gateway's server certificate: the configured PEM files, or — otherwise — one issued by the
 * built-in CA (ECDSA P-256, serverAuth, SANs from `selfIssuedTlsNames`, 397 days) and kept under
 * dataDir/gateway; issued again when its names no longer match the configuration or 30 days
 * before it expires.
 */
export async function gatewayTls(
  config: OutpostConfig,
  core: ConnectorCore,
  logger: Logger,
): Promise<GatewayTlsMaterial> {
  const configured = configuredTlsFiles(config);
  if (configured) return readConfiguredTls(configured);
  const dir = join(config.dataDir, 'gateway');
  const certFile = join(dir, 'tls.pem');
  const keyFile = join(dir, 'tls.key');
  const names = selfIssuedTlsNames(config);
  const existing = await readExisting(certFile, keyFile, names);
  if (existing) return existing;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const issued = await issueServerCertificate(names, core);
  await writePrivate(keyFile, issued.key);
  await writePrivate(certFile, issued.cert);
  logger.info(
    { cert: certFile, names: [...names.dns, ...names.ip] },
    'gateway TLS certificate issued by the built-in CA',
  );
  return { ...issued, source: certFile };
}

async function readExisting(
  certFile: string,
  keyFile: string,
  names: { dns: string[]; ip: string[] },
): Promise<GatewayTlsMaterial | undefined> {
  try {
    const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    const parsed = parseCertificate(firstDer(cert.toString('utf8'), 'CERTIFICATE'));
    if (parsed.notAfter.getTime() - Date.now() < renewBeforeMs) return undefined;
    if (!sameNames(parsed.sans.dns, names.dns) || !sameNames(parsed.sans.ip, names.ip)) return undefined;
    return { cert, key, source: certFile };
  } catch {
    return undefined;
  }
}

function sameNames(have: readonly string[], want: readonly string[]): boolean {
  const a = [...have].map((n) => n.toLowerCase()).sort();
  const b = [...want].map((n) => n.toLowerCase()).sort();
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

async function issueServerCertificate(
  names: { dns: string[]; ip: string[] },
  core: ConnectorCore,
): Promise<{ cert: Buffer; key: Buffer }> {
  const pair = await generateKeyPair('ec-p256');
  const cn = names.dns[0] ?? names.ip[0] ?? 'outpost-gateway';
  const csr = parseCsr(buildCsr(`CN=${cn}`, pair, { sans: { dns: names.dns, ip: names.ip } }));
  const issued = await core.ca.issue({
    csr,
    profile: { name: 'gateway-tls', validityDays, keyUsage: ['digitalSignature'], eku: ['serverAuth'] },
    requester: 'gateway',
  });
  await core.inventory.record({
    serialHex: issued.serialHex,
    subject: csr.subject.text,
    sans: [...names.dns.map((n) => `dns:${n}`), ...names.ip.map((ip) => `ip:${ip}`)],
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
