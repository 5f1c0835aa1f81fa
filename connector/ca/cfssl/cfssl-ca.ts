import { readFile } from 'node:fs/promises';
import { isSignedBy, type ParsedCertificate, parseCertificate } from '../../../certs/certificate.js';
import { firstDer, toPem } from '../../../certs/pem.js';
import { DecodeError, ErrorCodes, isOutpostError, OutpostError } from '../../../core/errors.js';
import type { RevocationReason } from '../../../link/schema/revocation-reason.js';
import { ensurePrivateDir, pathIn, readIfExists, writeFileAtomic } from '../builtin/files.js';
import type { BackendHealth, CaBackend, IssuedCertificate, IssueRequest } from '../ca-backend.js';
import { authenticatedBody, CfsslClient, parseAuthKey } from './cfssl-client.js';
import { cfsslSignRequest } from './cfssl-sign-request.js';

export interface CfsslCaOptions {
  /** Base URL of `cfssl serve`, e.g. http://127.0.0.1:8888. */
  url: string;
  timeoutMs: number;
  /** File with the hex HMAC key of the cfssl profile's auth_key: requests go to /authsign. */
  authKeyFile?: string;
  /** cfssl signing profile; its default profile when absent. */
  profile?: string;
  /** Where the CA certificate is cached, so GetCACert works while cfssl is down. */
  dir: string;
}

const CACHE_FILE = 'cfssl-ca.pem';
const MAX_KEY_FILE_BYTES = 4096;

function certificateFromResult(result: unknown, what: string): Buffer {
  const pem = (result as { certificate?: unknown } | null)?.certificate;
  if (typeof pem !== 'string') throw new DecodeError(`cfssl ${what} answer holds no certificate`);
  return firstDer(pem, 'CERTIFICATE');
}

/**
 * CloudFlare's cfssl (`cfssl serve`, 1.2 as in Debian 12) as the CA: sign or authsign with a CSR,
 * revoke by serial, info for the CA certificate. cfssl 1.2 publishes no CRL over its API (its
 * gencrl endpoint wants the CA key from the caller), so this backend has none either.
 */
export class CfsslCa implements CaBackend {
  readonly type = 'cfssl';
  private ca: ParsedCertificate | undefined;
  private readonly client: CfsslClient;

  private constructor(
    private readonly options: CfsslCaOptions,
    private readonly authKey: Buffer | undefined,
    cached: ParsedCertificate | undefined,
  ) {
    this.client = new CfsslClient(options.url, options.timeoutMs);
    this.ca = cached;
  }

  /**
   * Reads the auth key and the cached CA certificate. cfssl is asked for its CA certificate only
   * when none is cached (first start), so a restart or a CLI verb while cfssl is down still works.
   */
  static async open(options: CfsslCaOptions): Promise<CfsslCa> {
    const authKey = options.authKeyFile ? await readAuthKey(options.authKeyFile) : undefined;
    await ensurePrivateDir(options.dir);
    const cachedPem = await readIfExists(pathIn(options.dir, CACHE_FILE));
    let cached: ParsedCertificate | undefined;
    try {
      cached = cachedPem ? parseCertificate(firstDer(cachedPem.toString('utf8'), 'CERTIFICATE')) : undefined;
    } catch {
      cached = undefined; // fetched again on first use
    }
    const backend = new CfsslCa(options, authKey, cached);
    if (!cached) await backend.health();
    return backend;
  }

  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    const request = Buffer.from(JSON.stringify(cfsslSignRequest(req, this.options.profile)));
    const result = this.authKey
      ? await this.client.call('authsign', authenticatedBody(request, this.authKey))
      : await this.client.call('sign', request);
    const cert = parseCertificate(certificateFromResult(result, 'sign'));
    await this.checkIssued(cert, req);
    return { der: cert.der, serialHex: cert.serialHex, notBefore: cert.notBefore, notAfter: cert.notAfter };
  }

  /**
   * cfssl's certdb keys certificates by (decimal serial, authority key id). The 2016 snapshot
   * records an empty AKI; later releases the issuer's key id in hex: try both.
   */
  async revoke(serialHex: string, reason: RevocationReason): Promise<void> {
    const serial = BigInt(`0x${serialHex}`).toString(10);
    const revokeWith = (aki: string) =>
      this.client.call('revoke', Buffer.from(JSON.stringify({ serial, authority_key_id: aki, reason })));
    try {
      await revokeWith('');
    } catch (e) {
      if (!isOutpostError(e) || e.code !== ErrorCodes.notFound) throw e;
      const ca = await this.caCertificate();
      await revokeWith(ca.ski.toString('hex'));
    }
  }

  caChain(): Buffer[] {
    return this.ca ? [this.ca.der] : [];
  }

  currentCrl(): Buffer | undefined {
    return undefined;
  }

  async health(): Promise<BackendHealth> {
    try {
      await this.fetchCa();
      return { ok: true };
    } catch (e) {
      return { ok: false, detail: isOutpostError(e) ? e.clientMessage : 'cfssl check failed' };
    }
  }

  /** The certificate must be for the CSR's key and signed by cfssl's CA (refetched once if it changed). */
  private async checkIssued(cert: ParsedCertificate, req: IssueRequest): Promise<void> {
    if (!cert.spkiDer.equals(req.csr.spkiDer)) {
      throw new OutpostError(ErrorCodes.badSignature, 'cfssl issued a certificate for another key');
    }
    const signedBy = (ca: ParsedCertificate) =>
      ca.subject.der.equals(cert.issuer.der) && isSignedBy(cert, ca.publicKey);
    if (signedBy(await this.caCertificate())) return;
    if (!signedBy(await this.fetchCa())) {
      throw new OutpostError(
        ErrorCodes.badSignature,
        "cfssl's certificate is not signed by its CA certificate",
      );
    }
  }

  private async caCertificate(): Promise<ParsedCertificate> {
    return this.ca ?? this.fetchCa();
  }

  /** /api/v1/cfssl/info with the configured profile: the CA certificate cfssl signs with. */
  private async fetchCa(): Promise<ParsedCertificate> {
    const body = Buffer.from(JSON.stringify(this.options.profile ? { profile: this.options.profile } : {}));
    const result = await this.client.call('info', body);
    const ca = parseCertificate(certificateFromResult(result, 'info'));
    if (!this.ca?.der.equals(ca.der)) {
      await writeFileAtomic(pathIn(this.options.dir, CACHE_FILE), toPem('CERTIFICATE', ca.der), 0o600);
    }
    this.ca = ca;
    return ca;
  }
}

async function readAuthKey(path: string): Promise<Buffer> {
  const data = await readFile(path).catch((cause: unknown) => {
    throw new OutpostError(ErrorCodes.config, `cannot read the cfssl auth key file ${path}`, { cause });
  });
  if (data.length > MAX_KEY_FILE_BYTES)
    throw new OutpostError(ErrorCodes.config, 'the cfssl auth key file is too large');
  return parseAuthKey(data.toString('utf8'));
}
